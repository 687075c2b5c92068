#!/usr/bin/env python3
"""torch_cql.py - PyTorch reference for `o2o bench cql`: CQL update throughput on CPU.

The update is CORL's continuous CQL (github.com/corl-team/CORL, algorithms/offline/cql.py),
after Kumar et al. 2020, "Conservative Q-Learning for Offline Reinforcement Learning", with
its locomotion settings except the nets (256-256 here, as JaxCQL and WSRL, so the shapes
match o2o's): tanh-Gaussian actor with trainable log-std multiplier/offset (1, -1),
twin critics, automatic entropy tuning, no entropy term in the target, and the
importance-sampled CQL penalty per critic:
  T * logsumexp over 3N actions [(Q(s,a_j) - log q(a_j)) / T] - Q(s, a_data),
N uniform actions (log q = log 0.5^|A|), N from pi(.|s) and N from pi(.|s') scored at s.
All losses from the same parameters, then steps in CORL's order: temperature, actor,
critics, target update. Random in-memory data (see common.py).

Usage: OPENBLAS_NUM_THREADS=T python3 torch_cql.py --threads T [--runs 3] [--check]
"""
import dataclasses
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from common import RandomReplay, mlp, parse_config, run, soft_update


@dataclasses.dataclass
class Config:
    obs_dim: int = 11  # hopper
    act_dim: int = 3
    hidden: int = 256  # 2 hidden layers everywhere (CORL's own default is 3)
    batch_size: int = 256
    gamma: float = 0.99
    tau: float = 5e-3
    actor_lr: float = 3e-5
    critic_lr: float = 3e-4
    alpha_lr: float = 3e-5  # = actor_lr, as CORL
    orthogonal_init: bool = True
    cql_n_actions: int = 10
    cql_alpha: float = 10.0
    cql_temp: float = 1.0
    cql_clip_diff_min: float = -math.inf
    cql_clip_diff_max: float = math.inf
    log_std_min: float = -20.0
    log_std_max: float = 2.0
    buffer_size: int = 100_000
    threads: int = 1
    updates: int = 200
    warmup: int = 20
    runs: int = 3
    seed: int = 0


def init_mlp(net, orthogonal):
    """CORL's CQL init: hidden layers orthogonal (gain sqrt 2) when asked; last layer
    small (gain 1e-2); biases 0."""
    linears = [m for m in net if isinstance(m, nn.Linear)]
    for m in linears[:-1]:
        if orthogonal:
            nn.init.orthogonal_(m.weight, gain=math.sqrt(2))
            nn.init.zeros_(m.bias)
    last = linears[-1]
    (nn.init.orthogonal_ if orthogonal else nn.init.xavier_uniform_)(last.weight, gain=1e-2)
    nn.init.zeros_(last.bias)
    return net


class Actor(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.net = init_mlp(mlp(cfg.obs_dim, 2 * cfg.act_dim, cfg.hidden), cfg.orthogonal_init)
        self.log_std_mult = nn.Parameter(torch.tensor(1.0))
        self.log_std_offset = nn.Parameter(torch.tensor(-1.0))
        self.lo, self.hi = cfg.log_std_min, cfg.log_std_max

    def forward(self, obs, repeat=None):
        if repeat:  # [B, obs] -> [B, repeat, obs]
            obs = obs.unsqueeze(1).expand(-1, repeat, -1)
        mean, raw = self.net(obs).chunk(2, -1)
        log_std = (self.log_std_mult * raw + self.log_std_offset).clamp(self.lo, self.hi)
        std = log_std.exp()
        u = mean + std * torch.randn_like(mean)
        logp = (-0.5 * ((u - mean) / std) ** 2 - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)
        # log(1 - tanh(u)^2) in its stable form (as PyTorch's TanhTransform)
        logp = logp - (2 * (math.log(2) - u - F.softplus(-2 * u))).sum(-1)
        return torch.tanh(u), logp


class Critic(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.net = init_mlp(mlp(cfg.obs_dim + cfg.act_dim, 1, cfg.hidden), cfg.orthogonal_init)

    def forward(self, obs, act):  # act [B, A] or [B, N, A] (obs repeated to match)
        if act.dim() == 3:
            obs = obs.unsqueeze(1).expand(-1, act.shape[1], -1)
        return self.net(torch.cat([obs, act], -1)).squeeze(-1)


def main():
    cfg, check = parse_config(Config, __doc__.splitlines()[0])
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    actor = Actor(cfg)
    critics = nn.ModuleList(Critic(cfg) for _ in range(2))
    targets = nn.ModuleList(Critic(cfg) for _ in range(2))
    targets.load_state_dict(critics.state_dict())
    targets.requires_grad_(False)
    log_alpha = torch.zeros((), requires_grad=True)
    target_entropy = -float(cfg.act_dim)
    actor_opt = torch.optim.Adam(actor.parameters(), lr=cfg.actor_lr)
    critic_opt = torch.optim.Adam(critics.parameters(), lr=cfg.critic_lr)
    alpha_opt = torch.optim.Adam([log_alpha], lr=cfg.alpha_lr)
    data = RandomReplay(cfg.buffer_size, cfg.obs_dim, cfg.act_dim)
    n, act_dim = cfg.cql_n_actions, cfg.act_dim
    random_log_density = act_dim * math.log(0.5)

    def update():
        obs, act, rew, next_obs, done = data.sample(cfg.batch_size)
        # temperature and actor losses from the current parameters
        pi, logp = actor(obs)
        alpha_loss = -(log_alpha * (logp + target_entropy).detach()).mean()
        alpha = log_alpha.exp().detach()
        q_pi = torch.min(critics[0](obs, pi), critics[1](obs, pi))
        actor_loss = (alpha * logp - q_pi).mean()
        # TD: target without the entropy term (backup_entropy off)
        with torch.no_grad():
            next_a, _ = actor(next_obs)
            target_q = torch.min(targets[0](next_obs, next_a), targets[1](next_obs, next_a))
            y = rew + (1 - done) * cfg.gamma * target_q
        # CQL penalty: sampled actions are constants
        with torch.no_grad():
            rand_a = torch.empty(cfg.batch_size, n, act_dim).uniform_(-1, 1)
            cur_a, cur_logp = actor(obs, repeat=n)
            nxt_a, nxt_logp = actor(next_obs, repeat=n)
        critic_loss = 0.0
        for q in critics:
            q_data = q(obs, act)
            td = F.mse_loss(q_data, y)
            cat = torch.cat([q(obs, rand_a) - random_log_density, q(obs, nxt_a) - nxt_logp,
                             q(obs, cur_a) - cur_logp], dim=1)
            ood = torch.logsumexp(cat / cfg.cql_temp, dim=1) * cfg.cql_temp
            diff = torch.clamp(ood - q_data, cfg.cql_clip_diff_min, cfg.cql_clip_diff_max).mean()
            critic_loss = critic_loss + td + cfg.cql_alpha * diff
        alpha_opt.zero_grad()
        alpha_loss.backward()
        alpha_opt.step()
        actor_opt.zero_grad()
        actor_loss.backward()
        actor_opt.step()
        critic_opt.zero_grad()  # drops what the actor loss left in the critics
        critic_loss.backward()
        critic_opt.step()
        soft_update(targets, critics, cfg.tau)
        return {"alpha": alpha_loss.item(), "actor": actor_loss.item(), "critic": critic_loss.item()}

    run("torch_cql", cfg, update, check)


if __name__ == "__main__":
    main()
