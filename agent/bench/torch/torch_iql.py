#!/usr/bin/env python3
"""torch_iql.py - PyTorch reference for `o2o bench iql`: IQL update throughput on CPU.

The update is CORL's IQL (github.com/corl-team/CORL, algorithms/offline/iql.py), after
Kostrikov et al. 2021, "Offline Reinforcement Learning with Implicit Q-Learning": a value
net fitted by expectile regression to the min of twin target critics, critics fitted to
r + gamma * V(s'), and a Gaussian policy (tanh mean, state-independent log-std) trained
by advantage-weighted regression with exp(beta * A) clipped at 100, cosine learning-rate
schedule on the actor. Order as in the official code (ikostrikov/implicit_q_learning) and
agent/learn/iql.c: value step, then the new V gives the advantages and the Q target, actor
step, critic step, target update.
Random in-memory data (see common.py).

Usage: OPENBLAS_NUM_THREADS=T python3 torch_iql.py --threads T [--runs 3] [--check]
"""
import dataclasses

import torch
import torch.nn as nn

from common import RandomReplay, mlp, parse_config, run, soft_update


@dataclasses.dataclass
class Config:
    obs_dim: int = 11  # hopper
    act_dim: int = 3
    hidden: int = 256  # 2 hidden layers everywhere
    batch_size: int = 256
    gamma: float = 0.99
    tau: float = 5e-3
    expectile: float = 0.7
    beta: float = 3.0  # inverse temperature of the advantage weights
    exp_adv_max: float = 100.0
    actor_lr: float = 3e-4
    critic_lr: float = 3e-4
    value_lr: float = 3e-4
    max_steps: int = 1_000_000  # length of the actor's cosine schedule
    log_std_min: float = -5.0
    log_std_max: float = 2.0
    buffer_size: int = 100_000
    threads: int = 1
    updates: int = 500
    warmup: int = 50
    runs: int = 3
    seed: int = 0


class GaussianPolicy(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.net = nn.Sequential(mlp(cfg.obs_dim, cfg.act_dim, cfg.hidden), nn.Tanh())
        self.log_std = nn.Parameter(torch.zeros(cfg.act_dim))
        self.lo, self.hi = cfg.log_std_min, cfg.log_std_max

    def forward(self, obs):
        std = self.log_std.clamp(self.lo, self.hi).exp()
        return torch.distributions.Normal(self.net(obs), std)


def main():
    cfg, check = parse_config(Config, __doc__.splitlines()[0])
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    d_in = cfg.obs_dim + cfg.act_dim
    actor, value = GaussianPolicy(cfg), mlp(cfg.obs_dim, 1, cfg.hidden)
    critics = nn.ModuleList(mlp(d_in, 1, cfg.hidden) for _ in range(2))
    targets = nn.ModuleList(mlp(d_in, 1, cfg.hidden) for _ in range(2))
    targets.load_state_dict(critics.state_dict())
    targets.requires_grad_(False)
    value_opt = torch.optim.Adam(value.parameters(), lr=cfg.value_lr)
    critic_opt = torch.optim.Adam(critics.parameters(), lr=cfg.critic_lr)
    actor_opt = torch.optim.Adam(actor.parameters(), lr=cfg.actor_lr)
    actor_sched = torch.optim.lr_scheduler.CosineAnnealingLR(actor_opt, cfg.max_steps)
    data = RandomReplay(cfg.buffer_size, cfg.obs_dim, cfg.act_dim)

    def update():
        obs, act, rew, next_obs, done = data.sample(cfg.batch_size)
        oa = torch.cat([obs, act], -1)
        with torch.no_grad():
            target_q = torch.min(targets[0](oa), targets[1](oa)).squeeze(-1)
        # value: expectile regression towards the target critics
        u = target_q - value(obs).squeeze(-1)
        weight = torch.abs(cfg.expectile - (u < 0).float())
        value_loss = (weight * u**2).mean()
        value_opt.zero_grad()
        value_loss.backward()
        value_opt.step()
        with torch.no_grad():  # the new V for the advantages and the Q target
            adv = target_q - value(obs).squeeze(-1)
            y = rew + (1 - done) * cfg.gamma * value(next_obs).squeeze(-1)
        # actor: advantage-weighted regression on the dataset actions
        exp_adv = torch.exp(cfg.beta * adv).clamp(max=cfg.exp_adv_max)
        bc_losses = -actor(obs).log_prob(act).sum(-1)
        actor_loss = (exp_adv * bc_losses).mean()
        actor_opt.zero_grad()
        actor_loss.backward()
        actor_opt.step()
        actor_sched.step()
        # critics: one-step target through V, no policy sample
        critic_loss = sum(((q(oa).squeeze(-1) - y) ** 2).mean() for q in critics)
        critic_opt.zero_grad()
        critic_loss.backward()
        critic_opt.step()
        soft_update(targets, critics, cfg.tau)
        return {"value": value_loss.item(), "critic": critic_loss.item(), "actor": actor_loss.item()}

    run("torch_iql", cfg, update, check)


if __name__ == "__main__":
    main()
