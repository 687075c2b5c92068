#!/usr/bin/env python3
"""torch_h2o.py - PyTorch reference for `o2o bench h2o`: H2O step throughput on CPU.

One step of H2O (Niu et al., NeurIPS 2022, "When to Trust Your Simulator: Dynamics-Aware
Hybrid Offline-and-Online Reinforcement Learning") as the official code does it
(github.com/t6-thu/H2O, SimpleSAC/sim2real_sac.py; written anew here in CORL's single-file
style): the discriminators D_sa (s,a) and D_sas (s,a,s') (256-256 ReLU, 2 logits through
2 tanh, the sas logits = D_sas + D_sa) take one step on a fresh 256 real + 256 sim batch with
N(0, 0.1^2) input noise; then on 128 real + 128 sim rows: the dynamics ratio w on the sim rows
(clipped to [1e-5, 1]) weights their TD errors, the gap weight u over 10 perturbed next
states (s' + std * eps) is normalised to omega, the penalty
beta * clip(logsumexp(Q_sim + log omega) - mean Q_real, +-1000) joins the critic loss;
actor and temperature on all 256 states; no entropy in the target. Random in-memory data
(see common.py) stands in for both buffers.

Usage: OPENBLAS_NUM_THREADS=T python3 torch_h2o.py --threads T [--runs 3] [--check]
"""
import dataclasses

import torch
import torch.nn as nn
import torch.nn.functional as F

from common import RandomReplay, mlp, parse_config, run, soft_update
from torch_sac import Actor  # the same tanh-Gaussian policy


@dataclasses.dataclass
class Config:
    obs_dim: int = 17  # halfcheetah
    act_dim: int = 6
    hidden: int = 256  # 2 hidden layers everywhere
    real_batch: int = 128
    sim_batch: int = 128
    disc_batch: int = 256
    disc_noise: float = 0.1
    gap_samples: int = 10  # perturbed next states per row for u
    gamma: float = 0.99
    tau: float = 5e-3
    lr: float = 3e-4  # actor, critics, temperature, discriminators
    beta: float = 0.01  # cql_min_q_weight
    w_min: float = 1e-5
    w_max: float = 1.0
    u_max: float = 10.0
    penalty_clip: float = 1000.0
    log_std_min: float = -20.0  # the actor's (torch_sac.Actor)
    log_std_max: float = 2.0
    buffer_size: int = 100_000
    threads: int = 1
    updates: int = 200
    warmup: int = 20
    runs: int = 3
    seed: int = 0


class Discriminator(nn.Module):
    """2 logits through 2 tanh, as the official Weight_net.py."""

    def __init__(self, inp, hidden):
        super().__init__()
        self.net = mlp(inp, 2, hidden)

    def forward(self, *x):
        return 2 * torch.tanh(self.net(torch.cat(x, -1)))


def main():
    cfg, check = parse_config(Config, __doc__.splitlines()[0])
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    O, A, d_in = cfg.obs_dim, cfg.act_dim, cfg.obs_dim + cfg.act_dim
    actor = Actor(cfg)
    critics = nn.ModuleList(mlp(d_in, 1, cfg.hidden) for _ in range(2))
    targets = nn.ModuleList(mlp(d_in, 1, cfg.hidden) for _ in range(2))
    targets.load_state_dict(critics.state_dict())
    targets.requires_grad_(False)
    d_sa, d_sas = Discriminator(d_in, cfg.hidden), Discriminator(d_in + O, cfg.hidden)
    log_alpha = torch.zeros(1, requires_grad=True)
    actor_opt = torch.optim.Adam(actor.parameters(), lr=cfg.lr)
    critic_opt = torch.optim.Adam(critics.parameters(), lr=cfg.lr)
    alpha_opt = torch.optim.Adam([log_alpha], lr=cfg.lr)
    dsa_opt = torch.optim.Adam(d_sa.parameters(), lr=cfg.lr)
    dsas_opt = torch.optim.Adam(d_sas.parameters(), lr=cfg.lr)
    real, sim = RandomReplay(cfg.buffer_size, O, A), RandomReplay(cfg.buffer_size, O, A)
    state_std = real.obs.std(0)  # the real dataset's state std (see agent/learn/h2o.h)
    target_entropy = -float(A)

    def log_ratio(s, a, s2):
        """log P_real / P_sim from both discriminators (class 0 = real), as the official code."""
        sa = d_sa(s, a)
        sas = d_sas(s, a, s2) + sa
        lsa, lsas = F.log_softmax(sa, -1), F.log_softmax(sas, -1)
        return lsas[:, 0] - lsas[:, 1] - lsa[:, 0] + lsa[:, 1]

    def train_discriminators():
        rs, ra, _, rs2, _ = real.sample(cfg.disc_batch)
        ss, sa, _, ss2, _ = sim.sample(cfg.disc_batch)
        s, a, s2 = torch.cat([rs, ss]), torch.cat([ra, sa]), torch.cat([rs2, ss2])
        s, a, s2 = (x + cfg.disc_noise * torch.randn_like(x) for x in (s, a, s2))
        label = torch.cat([torch.zeros(cfg.disc_batch), torch.ones(cfg.disc_batch)]).long()
        sa_logits = d_sa(s, a)
        sas_logits = d_sas(s, a, s2) + sa_logits
        loss_sa = 2 * F.cross_entropy(sa_logits, label)  # mean over real + mean over sim
        loss_sas = 2 * F.cross_entropy(sas_logits, label)
        dsa_opt.zero_grad()
        dsas_opt.zero_grad()
        (loss_sa + loss_sas).backward()  # D_sa gets both losses' gradients
        dsa_opt.step()
        dsas_opt.step()
        return loss_sa, loss_sas

    def update():
        loss_sa, loss_sas = train_discriminators()
        r = real.sample(cfg.real_batch)
        s_ = sim.sample(cfg.sim_batch)
        obs, act, rew, next_obs, done = (torch.cat([x, y]) for x, y in zip(r, s_))
        R = cfg.real_batch
        with torch.no_grad():
            so, sa, sn = obs[R:], act[R:], next_obs[R:]
            w = log_ratio(so, sa, sn).exp().clamp(cfg.w_min, cfg.w_max)
            K = cfg.gap_samples
            sn_k = sn.repeat_interleave(K, 0)
            sn_k = sn_k + state_std * torch.randn_like(sn_k)
            u = -log_ratio(so.repeat_interleave(K, 0), sa.repeat_interleave(K, 0), sn_k)
            u = u.view(-1, K).mean(-1).clamp(1e-45, cfg.u_max).double()
            log_omega = (u.log() - torch.logsumexp(u.log(), 0)).float()
        # actor and temperature on all states
        new_act, log_pi = actor(obs)
        alpha_loss = -(log_alpha * (log_pi.detach() + target_entropy)).mean()
        alpha = log_alpha.exp().detach()
        oa_new = torch.cat([obs, new_act], -1)
        q_new = torch.min(critics[0](oa_new), critics[1](oa_new)).squeeze(-1)
        actor_loss = (alpha * log_pi - q_new).mean()
        # critics: weighted TD error (no entropy in the target) + the gap penalty
        with torch.no_grad():
            next_act, _ = actor(next_obs)
            oa_next = torch.cat([next_obs, next_act], -1)
            target_q = torch.min(targets[0](oa_next), targets[1](oa_next)).squeeze(-1)
            y = rew + (1 - done) * cfg.gamma * target_q
        oa = torch.cat([obs, act], -1)
        critic_loss = 0.0
        for q in critics:
            q_pred = q(oa).squeeze(-1)
            e2 = (q_pred - y) ** 2
            lse = torch.logsumexp(q_pred[R:] + log_omega, 0)
            diff = (lse - q_pred[:R].mean()).clamp(-cfg.penalty_clip, cfg.penalty_clip)
            critic_loss = critic_loss + e2[:R].mean() + (w * e2[R:]).mean() + cfg.beta * diff
        alpha_opt.zero_grad()
        alpha_loss.backward()
        alpha_opt.step()
        actor_opt.zero_grad()
        actor_loss.backward()
        actor_opt.step()
        critic_opt.zero_grad()
        critic_loss.backward()
        critic_opt.step()
        soft_update(targets, critics, cfg.tau)
        return {"disc_sa": loss_sa.item(), "disc_sas": loss_sas.item(),
                "actor": actor_loss.item(), "critic": critic_loss.item()}

    run("torch_h2o", cfg, update, check)


if __name__ == "__main__":
    main()
