"""Checks the installed o2o package against a live o2o-sim (run by test_python_package.sh).

Usage: python_package_check.py --sim build/o2o-sim --scenario hopper-short.ini
       --max-episode-steps 20 [--steps 400]
The scenario is hopper with a short max_episode_steps, so that random actions give both
terminated and truncated episodes. Exit status 0 = every check passed.
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np

import o2o

N = 4


def expect(exc, needle, fn, *args, **kwargs):
    """fn(*args) must raise exc whose message contains needle; returns the message."""
    try:
        fn(*args, **kwargs)
    except exc as e:
        assert needle in str(e), f"{exc.__name__} without {needle!r}: {e}"
        return str(e)
    raise AssertionError(f"{fn.__name__}{args} did not raise {exc.__name__}")


def check_spaces(env, obs_dim, act_dim):
    assert env.num_envs == N
    assert env.single_observation_space.shape == (obs_dim,)
    assert env.observation_space.shape == (N, obs_dim)
    assert env.single_action_space.shape == (act_dim,)
    assert env.action_space.shape == (N, act_dim)
    for s in (env.observation_space, env.action_space, env.single_observation_space,
              env.single_action_space):
        assert s.dtype == np.float32, s.dtype
        assert s.low.shape == s.shape and s.high.shape == s.shape
    assert np.all(np.isneginf(env.observation_space.low))
    assert np.all(env.action_space.low == env.client.act_low)  # broadcast over envs
    assert np.all(env.action_space.high == env.client.act_high)
    assert np.all(env.single_action_space.low < env.single_action_space.high)


def check_steps(env, steps, max_steps):
    """Random actions; checks shapes, dtypes, bounds and SAME_STEP autoreset semantics."""
    env.action_space.seed(5)
    obs, info = env.reset(seed=7)
    assert obs.shape == (N, env.single_observation_space.shape[0]) and obs.dtype == np.float32
    assert isinstance(info, dict)
    length = np.zeros(N, int)
    n_term = n_trunc = 0
    for t in range(steps):
        a = env.action_space.sample()
        assert a.shape == env.action_space.shape and a.dtype == np.float32
        assert env.action_space.contains(a), a
        obs, rew, term, trunc, info = env.step(a)
        fo, ep = info["final_obs"], info["episode_step"]
        assert obs.shape == fo.shape == env.observation_space.shape, (obs.shape, fo.shape)
        assert obs.dtype == fo.dtype == np.float32
        assert rew.shape == (N,) and rew.dtype == np.float32 and np.all(np.isfinite(rew))
        assert term.shape == trunc.shape == (N,) and term.dtype == trunc.dtype == np.bool_
        assert np.all(np.isfinite(obs)) and np.all(np.isfinite(fo)), t
        done = term | trunc
        assert np.array_equal(info["_final_obs"], done)
        length += 1
        # truncated exactly when the episode reached max_episode_steps
        assert np.array_equal(trunc, length == max_steps), (t, trunc, length)
        # hopper's healthy test on the last observation (z = obs[0], angle = obs[1];
        # velocities are clipped to +-10 in the observation)
        z, angle = fo[:, 0], fo[:, 1]
        healthy_obs = (z > 0.7 - 1e-6) & (np.abs(angle) < 0.2 + 1e-6)
        assert np.all(healthy_obs[~term]), (t, fo[~term])
        for i in np.flatnonzero(term):
            assert (z[i] <= 0.7 + 1e-6 or abs(angle[i]) >= 0.2 - 1e-6
                    or np.any(np.abs(fo[i, 2:5]) >= 100) or np.any(np.abs(fo[i, 5:]) >= 10)), fo[i]
        # autoreset: ended envs already start the next episode, the others continue
        assert np.all(ep[done] == 0) and np.array_equal(ep[~done], length[~done]), (ep, length)
        assert np.array_equal(fo[~done], obs[~done])
        assert all(not np.array_equal(fo[i], obs[i]) for i in np.flatnonzero(done))
        length[done] = 0
        n_term += int(term.sum())
        n_trunc += int(trunc.sum())
    assert n_term > 0 and n_trunc > 0, f"{n_term} terminated, {n_trunc} truncated episodes"
    return n_term, n_trunc


def check_errors(env, act_dim):
    # Wrong shapes are refused naming the expected one, and nothing is stepped.
    s0 = env.client.get_state(0)
    for bad in (np.zeros((N, act_dim + 1)), np.zeros(act_dim), np.zeros((N * act_dim,)),
                np.zeros((1, N, act_dim)), [[0.0] * act_dim] * (N - 1)):
        msg = expect(ValueError, f"expected (num_envs, act_dim) = ({N}, {act_dim})", env.step, bad)
        assert str(np.shape(bad)) in msg, msg
    expect(TypeError, "dtype", env.step, np.full((N, act_dim), "x"))
    a = np.zeros((N, act_dim), np.float32)
    a[N - 1, 0] = np.nan
    expect(o2o.O2OError, "NONFINITE", env.step, a)
    assert np.array_equal(env.client.get_state(0), s0), "a refused step changed the state"
    # Batched states: one message for all envs, equal to the one-env form; all or nothing.
    states = env.client.get_states()
    assert states.shape == (N, s0.size) and np.array_equal(states[0], s0), states.shape
    assert all(np.array_equal(states[i], env.client.get_state(i)) for i in range(N))
    bad = states[::-1].copy()
    bad[N - 1, 1] = np.nan
    expect(o2o.O2OError, "SIM", env.client.set_states, 0, bad)
    assert np.array_equal(env.client.get_states(), states), "a refused batch changed a state"
    env.client.set_states(1, states[:1].repeat(N - 1, axis=0))
    assert np.array_equal(env.client.get_states(1, N - 1), states[:1].repeat(N - 1, axis=0))
    env.client.set_states(0, states)
    expect(ValueError, "seeds for", env.reset, seed=[1, 2])
    expect(ValueError, "options", env.reset, options={"x": 1})
    # Seeded resets repeat; lists give env i its own seed.
    o1, _ = env.reset(seed=11)
    o2, _ = env.reset(seed=[11, 12, 13, 14])
    assert np.array_equal(o1, o2), "reset(seed=11) != reset(seed=[11..14])"
    o3, _ = env.reset(seed=12)
    assert np.array_equal(o1[1:], o3[:-1]) and not np.array_equal(o1, o3)


def check_render(env):
    for _ in range(10):  # move away from the nearly identical seeded initial states
        env.step(env.action_space.sample())
    frames = env.render()
    assert isinstance(frames, tuple) and len(frames) == 2, type(frames)
    for f in frames:
        assert f.shape == (64, 96, 3) and f.dtype == np.uint8, (f.shape, f.dtype)
        assert f.std() > 0, "a blank frame"
    # env 0 and env N-1 were reset with different seeds and stepped with different actions
    assert not np.array_equal(frames[0], frames[1])


def check_gymnasium_branch(tmp):
    """With gymnasium importable, VectorEnv subclasses gymnasium.vector.VectorEnv and the
    spaces are gymnasium Boxes. Gymnasium is usually not installed: a stub stands in."""
    code = ("import gymnasium, o2o, numpy as np\n"
            "assert issubclass(o2o.VectorEnv, gymnasium.vector.VectorEnv)\n"
            "assert o2o.VectorEnv.metadata['autoreset_mode'] is gymnasium.vector.AutoresetMode."
            "SAME_STEP\n"
            "b = o2o.spaces.box(-1, 1, (2, 3))\n"
            "assert isinstance(b, gymnasium.spaces.Box) and b.shape == (2, 3)\n")
    env = dict(os.environ)
    try:
        import gymnasium  # noqa: F401 (the real one)
        label = "real gymnasium"
    except ImportError:
        stub = os.path.join(tmp, "stub")
        for d in ("gymnasium/vector", "gymnasium/spaces"):
            os.makedirs(os.path.join(stub, d))
        files = {"gymnasium/__init__.py": "from . import spaces, vector\n",
                 "gymnasium/vector/__init__.py": "class VectorEnv:\n    pass\n"
                 "class AutoresetMode:\n    SAME_STEP = object()\n",
                 "gymnasium/spaces/__init__.py": "class Box:\n"
                 "    def __init__(self, low, high, shape, dtype):\n"
                 "        self.low, self.high, self.shape, self.dtype = low, high, shape, dtype\n"}
        for name, text in files.items():
            with open(os.path.join(stub, name), "w") as f:
                f.write(text)
        env["PYTHONPATH"] = stub
        label = "a gymnasium stub"
    subprocess.run([sys.executable, "-c", code], env=env, check=True)
    return label


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sim", required=True)
    ap.add_argument("--scenario", required=True)
    ap.add_argument("--max-episode-steps", type=int, required=True)
    ap.add_argument("--steps", type=int, default=400)
    args = ap.parse_args()

    # The package under test is the installed one, not the source tree.
    assert os.path.realpath(o2o.__file__).startswith(os.path.realpath(sys.prefix)), o2o.__file__

    expect(RuntimeError, "no-such-scenario", o2o.launch, "no-such-scenario", sim=args.sim)
    expect(FileNotFoundError, "o2o-sim not found", o2o.launch, "hopper", sim="/nonexistent")

    env = o2o.launch(args.scenario, num_envs=N, sim=args.sim, render_width=96,
                     render_height=64, render_envs=[0, N - 1])
    obs_dim, act_dim = env.client.obs_dim, env.client.act_dim
    assert env.max_episode_steps == args.max_episode_steps, env.max_episode_steps
    expect(RuntimeError, "reset()", env.step, np.zeros((N, act_dim)))
    check_spaces(env, obs_dim, act_dim)
    n_term, n_trunc = check_steps(env, args.steps, args.max_episode_steps)
    check_errors(env, act_dim)
    check_render(env)
    assert env.params["gravity_scale"] == 1.0 and "hopper" in repr(env), (env.params, env)
    assert env.set_dynamics(gravity_scale=1.25)["gravity_scale"] == 1.25
    assert env.params["gravity_scale"] == 1.25
    expect(o2o.O2OError, "no_such_param", env.set_dynamics, no_such_param=1.0)
    proc = env._proc.popen
    env.close()
    assert proc.poll() is not None, "close() left o2o-sim running"
    expect(RuntimeError, "closed", env.step, np.zeros((N, act_dim)))
    env.close()  # closing twice is harmless

    with tempfile.TemporaryDirectory() as tmp:
        label = check_gymnasium_branch(tmp)
    print(f"o2o package: {args.steps} random steps x {N} envs, {n_term} terminated and "
          f"{n_trunc} truncated episodes, errors, render and {label} branch: all checks ok")


if __name__ == "__main__":
    main()
