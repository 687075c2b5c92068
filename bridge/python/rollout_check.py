"""Test driver for the o2o package's O2OClient (run by tests/bridge/test_python_client.c).

Drives a running o2o-sim with a fixed action sequence and writes what it received as raw
float32 to --out, so the C test can compare it value for value with an in-process vecenv:
    obs after reset [n, o], then per step: obs [n, o], reward [n], terminated [n],
    truncated [n], final_obs [n, o], episode_step [n] (all as float32).
Also checks the protocol's promises it can see on its own (shapes, SAME_STEP autoreset,
NaN refused, set_state(get_state()) repeats a step, request ids after a timeout).
Exit status 0 = all checks passed.
"""
import argparse
import sys

import numpy as np

from o2o import O2OClient, O2OError


def action(t, n, a, low, high):
    # The same formula as the C test: exact in float32.
    i = np.arange(n)[:, None]
    j = np.arange(a)[None, :]
    u = (((t * 7 + i * 3 + j) % 11) / 5.0 - 1.0).astype(np.float32)
    return u


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    env = O2OClient(args.endpoint, timeout_ms=5000)
    n, o, a = env.num_envs, env.obs_dim, env.act_dim
    assert env.info["scenario"] and env.info["variant"] in ("real", "sim"), env.info
    assert env.act_low.shape == (a,) and np.all(env.act_low < env.act_high)
    assert "gravity_scale" in env.params and env.params["gravity_scale"] == 1.0, env.params

    out = []
    obs, info = env.reset(seed=args.seed)
    assert obs.shape == (n, o) and obs.dtype == np.float32
    out.append(obs.ravel())
    ended = 0
    for t in range(args.steps):
        obs, reward, term, trunc, info = env.step(action(t, n, a, env.act_low, env.act_high))
        done = term | trunc
        # SAME_STEP autoreset: a finished env starts over in the same reply.
        assert np.all(info["episode_step"][done] == 0), info["episode_step"]
        assert np.all(info["episode_step"][~done] > 0)
        assert np.array_equal(info["final_obs"][~done], obs[~done])
        ended += int(done.sum())
        for arr in (obs, reward, term, trunc, info["final_obs"], info["episode_step"]):
            out.append(np.asarray(arr, np.float32).ravel())
    np.concatenate(out).astype("<f4").tofile(args.out)

    # NaN actions are refused and nothing is stepped.
    state = env.get_state(0)
    bad = np.zeros((n, a), np.float32)
    bad[n - 1, a - 1] = np.nan
    try:
        env.step(bad)
        sys.exit("a NaN action was accepted")
    except O2OError as e:
        assert e.name == "NONFINITE", e
    assert np.array_equal(env.get_state(0), state), "a refused STEP changed the state"

    # set_state(get_state()) makes the env repeat its step exactly.
    act = action(1, n, a, env.act_low, env.act_high)
    s0 = env.get_state(0)
    o1 = env.step(act)[0][0]
    env.set_state(0, s0)
    o2 = env.step(act)[0][0]
    assert np.array_equal(o1, o2), (o1, o2)

    try:
        env.set_dynamics(no_such_param=1.0)
        sys.exit("an unknown parameter was accepted")
    except O2OError as e:
        assert e.name == "BAD_ARG" and "no_such_param" in str(e), e
    assert env.set_dynamics(gravity_scale=1.25)["gravity_scale"] == 1.25
    env.close()
    print(f"python client: {args.steps} steps x {n} envs, {ended} episodes ended, all checks ok")


if __name__ == "__main__":
    main()
