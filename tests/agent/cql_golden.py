#!/usr/bin/python3
"""cql_golden.py - independent float64 reference of CQL's and Cal-QL's critic loss on the tiny
hand-set batch of tests/agent/test_cql.c (numpy only; written from the papers' and CORL's
formulas, not from cql.c). Prints the values the test embeds:

  case td penalty diff0 diff1

CQL (Kumar et al. 2020; CORL algorithms/offline/cql.py), per critic k:
  TD_k = mean_r (Q_k(s,a) - y)^2, y = r + gamma (1 - d) min_k Qt_k(s', a'), a' ~ pi(.|s')
  diff_k = mean_r [T logsumexp_j((Q_k(s, a_j) - log q_j) / T) - Q_k(s, a)]
  over n uniform (log q = A log 0.5), n pi(.|s) and n pi(.|s') actions, all scored at s.
Cal-QL (Nakamoto et al. 2023): the policy samples' Q -> max(Q, mc_return) before the correction.
Max-target backup: y with max over n a' of min_k Qt_k. Lagrange: alpha' = exp(log alpha').

Usage: /usr/bin/python3 tests/agent/cql_golden.py
"""
import math

import numpy as np

O, A, H, N, B, n = 2, 2, 3, 2, 2, 2
GAMMA = 0.99
obs = np.array([[0.5, -0.2], [0.1, 0.4]])
act = np.array([[0.3, -0.6], [-0.8, 0.2]])
rew = np.array([1.0, -0.5])
nxt = np.array([[0.4, -0.1], [0.0, 0.7]])
done = np.array([0.0, 1.0])
mc = np.array([0.75, 0.6])


def vals(count, amp, freq, phase, fn=np.sin):
    return amp * fn(freq * np.arange(count) + phase)


def unpack(p, E, dims):
    """nn.h layout: per layer W [E][out][in] then b [E][out]."""
    layers, off = [], 0
    for i, o in zip(dims[:-1], dims[1:]):
        W = p[off:off + E * o * i].reshape(E, o, i)
        off += E * o * i
        b = p[off:off + E * o].reshape(E, o)
        off += E * o
        layers.append((W, b))
    return layers


def mlp(layers, x):
    """x [R][in] -> [R][E][out] for every member."""
    outs = []
    for k in range(layers[0][0].shape[0]):
        h = x
        for li, (W, b) in enumerate(layers):
            h = h @ W[k].T + b[k]
            if li < len(layers) - 1:
                h = np.maximum(h, 0.0)
        outs.append(h)
    return np.stack(outs, 1)


actor_dims, critic_dims = [O, H, 2 * A], [O + A, H, 1]
n_actor = H * O + H + 2 * A * H + 2 * A
n_critic = N * (H * (O + A) + H + H + 1)
actor = unpack(vals(n_actor, 0.5, 0.7, 0.1), 1, actor_dims)
critic = unpack(vals(n_critic, 0.6, 0.9, 0.2), N, critic_dims)
target = unpack(vals(n_critic, 0.6, 0.9, 0.5), N, critic_dims)
sac_eps = vals(2 * B * A, 0.8, 1.3, 0.3).reshape(2 * B, A)
unif = vals(n * B * A, 0.9, 1.7, 0.4).reshape(n, B, A)
eps = vals(3 * n * B * A, 1.0, 1.1, 0.2, np.cos).reshape(3, n, B, A)


def tanh_gauss(out, e):
    mu, raw = out[:, :A], out[:, A:]
    ls = np.clip(raw, -20.0, 2.0)
    u = mu + np.exp(ls) * e
    softplus = np.log1p(np.exp(-2 * u))
    logp = (-0.5 * e**2 - ls - 0.5 * math.log(2 * math.pi) - 2 * (math.log(2) - u - softplus)).sum(1)
    return np.tanh(u), logp


def q_of(layers, s, a):
    return mlp(layers, np.concatenate([s, a], 1))[:, :, 0]  # [R][N]


def case(alpha=5.0, temp=1.0, max_backup=False, calibrate=False, lagrange=False, gap=1.0,
         log_ap=1.0):
    out_s = mlp(actor, obs)[:, 0]
    out_n = mlp(actor, nxt)[:, 0]
    if max_backup:
        best = np.full(B, -np.inf)
        for i in range(n):
            a2, _ = tanh_gauss(out_n, eps[2, i])
            best = np.maximum(best, q_of(target, nxt, a2).min(1))
        y = rew + GAMMA * (1 - done) * best
    else:
        a2, _ = tanh_gauss(out_n, sac_eps[B:])
        y = rew + GAMMA * (1 - done) * q_of(target, nxt, a2).min(1)
    q_data = q_of(critic, obs, act)
    td = ((q_data - y[:, None]) ** 2).mean(0).sum()
    cols, corr, policy = [], [], []
    for i in range(n):
        cols.append(q_of(critic, obs, unif[i]))
        corr.append(np.full(B, A * math.log(0.5)))
        policy.append(False)
    for kind, out in ((0, out_s), (1, out_n)):
        for i in range(n):
            a_s, lp = tanh_gauss(out, eps[kind, i])
            cols.append(q_of(critic, obs, a_s))  # scored at s, also the pi(s') samples
            corr.append(lp)
            policy.append(True)
    diffs = []
    for k in range(N):
        x = []
        for c, lq, pol in zip(cols, corr, policy):
            qv = c[:, k]
            if calibrate and pol:
                qv = np.maximum(qv, mc)
            x.append((qv - lq) / temp)
        x = np.stack(x, 1)
        m = x.max(1)
        lse = temp * (m + np.log(np.exp(x - m[:, None]).sum(1)))
        diffs.append((lse - q_data[:, k]).mean())
    w = alpha * (math.exp(log_ap) if lagrange else 1.0)
    pen = sum(w * (d - (gap if lagrange else 0.0)) for d in diffs)
    return td, pen, diffs[0], diffs[1]


CASES = {
    "cql": dict(),
    "cql_temp2_maxbackup": dict(alpha=1.0, temp=2.0, max_backup=True),
    "calql": dict(calibrate=True),
    "cql_lagrange": dict(lagrange=True, gap=1.0, log_ap=1.0),
}

if __name__ == "__main__":
    for name, kw in CASES.items():
        td, pen, d0, d1 = case(**kw)
        print(f"{name} {td:.10f} {pen:.10f} {d0:.10f} {d1:.10f}")
