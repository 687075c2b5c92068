#!/usr/bin/env python3
"""torch_sac.py - PyTorch reference for `o2o bench sac`: SAC update throughput on CPU.

The update is CORL's SAC-N (github.com/corl-team/CORL, algorithms/offline/sac_n.py) with
N = 2 critics, which is plain SAC (Haarnoja et al. 2018, "Soft Actor-Critic Algorithms and
Applications"): tanh-Gaussian actor, twin critics with Polyak targets, automatic entropy
tuning towards -act_dim, entropy term in the target. Order as in CORL: temperature step,
actor step, critic step, target update. Random in-memory data (see common.py).

Usage: OPENBLAS_NUM_THREADS=T python3 torch_sac.py --threads T [--runs 3] [--check]
(torch.set_num_threads does not size OpenBLAS's own thread pool: set both.)
"""
import dataclasses
import math

import torch
import torch.nn as nn

from common import RandomReplay, mlp, parse_config, run, soft_update


@dataclasses.dataclass
class Config:
    obs_dim: int = 11  # hopper
    act_dim: int = 3
    hidden: int = 256  # 2 hidden layers everywhere
    batch_size: int = 256
    num_critics: int = 2
    gamma: float = 0.99
    tau: float = 5e-3
    actor_lr: float = 3e-4
    critic_lr: float = 3e-4
    alpha_lr: float = 3e-4
    log_std_min: float = -5.0
    log_std_max: float = 2.0
    buffer_size: int = 100_000
    threads: int = 1  # torch.set_num_threads
    updates: int = 500  # timed updates per run
    warmup: int = 50
    runs: int = 3
    seed: int = 0


class Actor(nn.Module):
    """Tanh-Gaussian policy: one MLP gives mean and log-std."""

    def __init__(self, cfg):
        super().__init__()
        self.net = mlp(cfg.obs_dim, 2 * cfg.act_dim, cfg.hidden)
        self.lo, self.hi = cfg.log_std_min, cfg.log_std_max

    def forward(self, obs):
        mean, log_std = self.net(obs).chunk(2, -1)
        log_std = log_std.clamp(self.lo, self.hi)
        std = log_std.exp()
        u = mean + std * torch.randn_like(mean)  # reparameterised
        a = torch.tanh(u)
        logp = (-0.5 * ((u - mean) / std) ** 2 - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)
        logp = logp - torch.log(1 - a.pow(2) + 1e-6).sum(-1)  # tanh change of variables
        return a, logp


def main():
    cfg, check = parse_config(Config, __doc__.splitlines()[0])
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    d_in = cfg.obs_dim + cfg.act_dim
    actor = Actor(cfg)
    critics = nn.ModuleList(mlp(d_in, 1, cfg.hidden) for _ in range(cfg.num_critics))
    targets = nn.ModuleList(mlp(d_in, 1, cfg.hidden) for _ in range(cfg.num_critics))
    targets.load_state_dict(critics.state_dict())
    targets.requires_grad_(False)
    log_alpha = torch.zeros((), requires_grad=True)
    target_entropy = -float(cfg.act_dim)
    actor_opt = torch.optim.Adam(actor.parameters(), lr=cfg.actor_lr)
    critic_opt = torch.optim.Adam(critics.parameters(), lr=cfg.critic_lr)
    alpha_opt = torch.optim.Adam([log_alpha], lr=cfg.alpha_lr)
    data = RandomReplay(cfg.buffer_size, cfg.obs_dim, cfg.act_dim)

    def q_min(nets, obs, act):
        oa = torch.cat([obs, act], -1)
        return torch.stack([q(oa).squeeze(-1) for q in nets]).min(0).values

    def update():
        obs, act, rew, next_obs, done = data.sample(cfg.batch_size)
        # temperature: log_alpha towards the target entropy
        with torch.no_grad():
            _, logp = actor(obs)
        alpha_loss = -(log_alpha * (logp + target_entropy)).mean()
        alpha_opt.zero_grad()
        alpha_loss.backward()
        alpha_opt.step()
        alpha = log_alpha.exp().detach()
        # actor: maximise min-Q minus alpha * log pi
        pi, logp = actor(obs)
        actor_loss = (alpha * logp - q_min(critics, obs, pi)).mean()
        actor_opt.zero_grad()
        actor_loss.backward()
        actor_opt.step()
        # critics: soft Bellman target from the target critics
        with torch.no_grad():
            next_a, next_logp = actor(next_obs)
            y = rew + cfg.gamma * (1 - done) * (q_min(targets, next_obs, next_a) - alpha * next_logp)
        oa = torch.cat([obs, act], -1)
        critic_loss = sum(((q(oa).squeeze(-1) - y) ** 2).mean() for q in critics)
        critic_opt.zero_grad()
        critic_loss.backward()
        critic_opt.step()
        soft_update(targets, critics, cfg.tau)
        return {"alpha": alpha_loss.item(), "actor": actor_loss.item(), "critic": critic_loss.item()}

    run("torch_sac", cfg, update, check)


if __name__ == "__main__":
    main()
