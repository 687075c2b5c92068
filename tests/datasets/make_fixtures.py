#!/usr/bin/python3
"""Write D4RL-layout HDF5 fixtures with h5py (the way D4RL's own files were written).

usage: make_fixtures.py OUTDIR

Values follow closed formulas the C tests recompute, all exactly representable in
float32 so float64 files must read back bit-identically after conversion:
  observations[i, j] = i * 0.25 + j      actions[i, j] = (i % 8) * 0.125 - j
  rewards[i] = i * 0.5                   next_observations[i] = observations[i + 1]
Episodes (limit 20): rows 0-9 end by terminal, 10-29 by timeout, 30-44 by terminal,
45-49 unfinished (N = 50).
"""
import os
import sys

import h5py
import numpy as np

N, OBS, ACT, LIMIT = 50, 3, 2, 20
TERMINAL_ROWS = [9, 44]
TIMEOUT_ROWS = [29]


def arrays(dtype):
    i = np.arange(N + 1, dtype=np.float64)[:, None]
    obs_all = i * 0.25 + np.arange(OBS)[None, :]
    obs = obs_all[:N]
    nxt = obs_all[1:]
    act = (np.arange(N)[:, None] % 8) * 0.125 - np.arange(ACT)[None, :]
    rew = np.arange(N) * 0.5
    term = np.zeros(N, dtype=bool)
    term[TERMINAL_ROWS] = True
    tout = np.zeros(N, dtype=bool)
    tout[TIMEOUT_ROWS] = True
    return dict(observations=obs.astype(dtype), actions=act.astype(dtype),
                rewards=rew.astype(dtype), next_observations=nxt.astype(dtype),
                terminals=term, timeouts=tout)


def write(path, a, rewards_2d=False, drop=(), extras=True, compression="gzip"):
    with h5py.File(path, "w") as f:
        for k, v in a.items():
            if k in drop:
                continue
            if k == "rewards" and rewards_2d:
                v = v[:, None]
            f.create_dataset(k, data=v, compression=compression)
        if extras:
            f.create_dataset("infos/action_log_probs", data=np.full(N, -2 * np.log(2), np.float32))
            f.create_dataset("infos/qpos", data=np.arange(N * 4, dtype=np.float32).reshape(N, 4))
            f["metadata/algorithm"] = np.string_("SAC")
            f["metadata/iteration"] = np.int32(1234)
            f["metadata/policy/fc0/weight"] = np.arange(12, dtype=np.float32).reshape(4, 3)
            f["metadata/policy/nonlinearity"] = np.string_("relu")
            f["metadata/max_episode_steps"] = np.int64(LIMIT)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    p = lambda name: os.path.join(out, name)
    write(p("d4rl_f32.hdf5"), arrays(np.float32), rewards_2d=True)
    write(p("d4rl_f64.hdf5"), arrays(np.float64))
    # v0-like: no next_observations, no timeouts, no metadata (limit passed by the caller).
    write(p("d4rl_nonext.hdf5"), arrays(np.float32), drop=("next_observations", "timeouts"),
          extras=False)
    write(p("d4rl_nonext_timeouts.hdf5"), arrays(np.float32), drop=("next_observations",))
    # Bad inputs, one defect each.
    write(p("bad_missing_actions.hdf5"), arrays(np.float32), drop=("actions",))
    a = arrays(np.float32)
    a["rewards"] = a["rewards"][:-1]
    write(p("bad_rows.hdf5"), a)
    a = arrays(np.float32)
    a["observations"] = a["observations"].astype(np.int32)
    write(p("bad_dtype.hdf5"), a)
    a = arrays(np.float32)
    a["rewards"] = np.stack([a["rewards"], a["rewards"]], axis=1)
    write(p("bad_rank.hdf5"), a)
    a = arrays(np.float32)
    a["observations"][7, 1] = np.nan
    write(p("bad_nan.hdf5"), a)
    a = arrays(np.float32)
    a["actions"][33, 0] = np.inf
    write(p("bad_inf.hdf5"), a)
    a = arrays(np.float32)
    a["terminals"][:] = False
    a["timeouts"][:] = False
    write(p("bad_endless.hdf5"), a)
    a = arrays(np.float32)
    a["terminals"] = np.where(a["terminals"], 2, 0).astype(np.int32)
    write(p("bad_flag.hdf5"), a)
    # Sparse chunked datasets whose declared sizes overflow 32-bit dims / byte counts.
    write(p("bad_wide.hdf5"), arrays(np.float32))
    with h5py.File(p("bad_wide.hdf5"), "r+") as f:
        for k in ("observations", "next_observations"):
            del f[k]
            f.create_dataset(k, shape=(N, 2**32 + OBS), dtype="f4", chunks=(1, 4096))
    write(p("huge_extra.hdf5"), arrays(np.float32))
    with h5py.File(p("huge_extra.hdf5"), "r+") as f:
        f.create_dataset("metadata/huge", shape=(2**31, 2**31), dtype="f4", chunks=(1, 4096))
    with open(p("not_hdf5.hdf5"), "w") as f:
        f.write("observations,actions\n1,2\n")
    big = arrays(np.float32)
    write(p("cut_short.hdf5"), big, compression=None)
    size = os.path.getsize(p("cut_short.hdf5"))
    with open(p("cut_short.hdf5"), "r+b") as f:
        f.truncate(size // 2)


def minari(out):
    """A Minari (HDF5 backend) dataset: 3 episodes of lengths 4, 6, 5; episode 1 truncated.
    observations[ep][t, j] = 100 * ep + t + 0.5 * j (T + 1 rows), actions = -obs[:T, :2],
    rewards[t] = ep + 0.25 * t."""
    d = os.path.join(out, "minari", "pendulum", "test-v0", "data")
    os.makedirs(d, exist_ok=True)
    with h5py.File(os.path.join(d, "main_data.hdf5"), "w") as f:
        for ep, T in enumerate([4, 6, 5]):
            g = f.create_group(f"episode_{ep}")
            g.attrs["id"] = ep
            g.attrs["total_steps"] = T
            t = np.arange(T + 1, dtype=np.float64)[:, None]
            obs = 100 * ep + t + 0.5 * np.arange(3)[None, :]
            g.create_dataset("observations", data=obs)  # float64, as gymnasium Box
            g.create_dataset("actions", data=-obs[:T, :2].astype(np.float32))
            g.create_dataset("rewards", data=ep + 0.25 * np.arange(T))
            term = np.zeros(T, bool)
            trunc = np.zeros(T, bool)
            (trunc if ep == 1 else term)[-1] = True
            g.create_dataset("terminations", data=term)
            g.create_dataset("truncations", data=trunc)
    with open(os.path.join(d, "metadata.json"), "w") as f:
        f.write('{"dataset_id": "pendulum/test-v0", "total_episodes": 3, "total_steps": 15}')
    bad = os.path.join(out, "minari_bad.hdf5")
    with h5py.File(bad, "w") as f:
        g = f.create_group("episode_0")
        g.create_dataset("observations", data=np.zeros((4, 3), np.float32))  # should be 5
        g.create_dataset("actions", data=np.zeros((4, 2), np.float32))
        g.create_dataset("rewards", data=np.zeros(4, np.float32))
        g.create_dataset("terminations", data=np.zeros(4, bool))
        g.create_dataset("truncations", data=np.zeros(4, bool))
    # actions declare 2^32 + 2 columns (sparse, never written): must not be taken as 2
    with h5py.File(os.path.join(out, "minari_wide.hdf5"), "w") as f:
        g = f.create_group("episode_0")
        g.create_dataset("observations", data=np.zeros((5, 3), np.float32))
        g.create_dataset("actions", shape=(4, 2**32 + 2), dtype="f4", chunks=(1, 4096))
        g.create_dataset("rewards", data=np.zeros(4, np.float32))
        g.create_dataset("terminations", data=np.zeros(4, bool))
        g.create_dataset("truncations", data=np.zeros(4, bool))


if __name__ == "__main__":
    main()
    minari(sys.argv[1])
