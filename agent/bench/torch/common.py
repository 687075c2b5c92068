"""common.py - what the PyTorch references share: config handling, random replay data,
the MLP builder and the timing loop whose output line `o2o bench` parses.

Each reference (torch_sac.py, torch_iql.py, torch_cql.py) is one readable file after
CORL's single-file algorithms (github.com/corl-team/CORL): a Config dataclass with every
hyperparameter and its default, the networks, one `update()` written out, then `run()`.
They measure update throughput only (random in-memory data, no environment), so the
numbers compare with `o2o bench <algo>` on the same shapes.

Output, one line on stdout:
  torch_<algo> threads=T torch=V updates=U runs=R updates/s min=.. median=.. max=..
"""
import argparse
import dataclasses
import statistics
import time

import torch
import torch.nn as nn


def parse_config(cls, description):
    """Every Config field becomes a --flag (underscores as dashes) with its default."""
    p = argparse.ArgumentParser(description=description)
    for f in dataclasses.fields(cls):
        flag = "--" + f.name.replace("_", "-")
        if f.type in (bool, "bool"):
            p.add_argument(flag, type=lambda s: s.lower() in ("1", "true", "yes"), default=f.default,
                           help=f"(default {f.default})")
        else:
            typ = {"int": int, "float": float, "str": str}.get(f.type, f.type)
            p.add_argument(flag, type=typ, default=f.default, help=f"(default {f.default})")
    p.add_argument("--check", action="store_true",
                   help="run 3 updates, check every loss is finite, print them and exit")
    args = p.parse_args()
    check = args.check
    del args.check
    return cls(**vars(args)), check


def mlp(inp, out, hidden, layers=2):
    mods, d = [], inp
    for _ in range(layers):
        mods += [nn.Linear(d, hidden), nn.ReLU()]
        d = hidden
    mods.append(nn.Linear(d, out))
    return nn.Sequential(*mods)


def soft_update(target, source, tau):
    with torch.no_grad():
        for t, s in zip(target.parameters(), source.parameters()):
            t.mul_(1.0 - tau).add_(s, alpha=tau)


class RandomReplay:
    """A replay buffer of random transitions: sampling costs what a real one costs."""

    def __init__(self, size, obs_dim, act_dim):
        self.obs = torch.randn(size, obs_dim)
        self.act = torch.rand(size, act_dim) * 2 - 1
        self.rew = torch.randn(size)
        self.next_obs = torch.randn(size, obs_dim)
        self.done = (torch.rand(size) < 0.01).float()

    def sample(self, batch):
        i = torch.randint(0, self.obs.shape[0], (batch,))
        return self.obs[i], self.act[i], self.rew[i], self.next_obs[i], self.done[i]


def run(name, cfg, update, check):
    """--check: 3 updates, losses must be finite. Otherwise warm up, then time `runs`
    rounds of `updates` updates and print the line `o2o bench` reads."""
    if check:
        for _ in range(3):
            losses = update()
        bad = {k: v for k, v in losses.items() if not torch.isfinite(torch.tensor(v))}
        print(f"{name} check " + " ".join(f"{k}={v:.4g}" for k, v in losses.items()))
        if bad:
            raise SystemExit(f"{name}: non-finite losses {bad}")
        return
    for _ in range(cfg.warmup):
        update()
    ups = []
    for _ in range(cfg.runs):
        t = time.perf_counter()
        for _ in range(cfg.updates):
            update()
        ups.append(cfg.updates / (time.perf_counter() - t))
    print(f"{name} threads={cfg.threads} torch={torch.__version__} updates={cfg.updates} "
          f"runs={cfg.runs} updates/s min={min(ups):.1f} median={statistics.median(ups):.1f} "
          f"max={max(ups):.1f}", flush=True)
