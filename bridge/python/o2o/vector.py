"""o2o.vector: the N envs of one o2o-sim as a Gymnasium-style vector env.

    import o2o
    with o2o.launch("hopper", num_envs=8) as env:     # starts o2o-sim, stops it on close
        obs, info = env.reset(seed=0)                   # obs: float32 [8, obs_dim]
        actions = env.action_space.sample()             # float32 [8, act_dim] within bounds
        obs, reward, terminated, truncated, info = env.step(actions)
        frames = env.render()                           # tuple of uint8 [H, W, 3], one per env

    env = o2o.VectorEnv("ipc:///tmp/o2o-sim-1234.ipc")  # or attach to a running o2o-sim

A subclass of gymnasium.vector.VectorEnv when Gymnasium is importable (it is optional).
Autoreset is Gymnasium's SAME_STEP mode: when env i's episode ends, obs[i] is already the
first observation of the next one and info["final_obs"][i] the last one of the episode that
ended (info["_final_obs"][i] is True); for the other envs final_obs[i] is a copy of obs[i].
"""
import os
import shutil
import subprocess
import tempfile
import time
import weakref

import numpy as np

from .client import O2OClient
from .spaces import box

try:
    import gymnasium
    from gymnasium.vector import VectorEnv as _Base
    _SAME_STEP = getattr(getattr(gymnasium.vector, "AutoresetMode", None), "SAME_STEP",
                         "same_step")
except ImportError:  # Gymnasium is optional
    _Base, _SAME_STEP = object, "same_step"


class VectorEnv(_Base):
    """All envs of one o2o-sim server (they step together, as the protocol does)."""

    metadata = {"render_modes": ["rgb_array"], "autoreset_mode": _SAME_STEP}

    def __init__(self, endpoint, timeout_ms=5000, render_mode="rgb_array", render_width=320,
                 render_height=240, render_envs=None):
        """endpoint: the o2o-sim to drive. render_envs: env indices render() draws (default
        all; each frame is one RENDER request, so limit it for large N)."""
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode {render_mode!r}: o2o supports None or 'rgb_array'")
        self.client = O2OClient(endpoint, timeout_ms)
        c = self.client
        self.num_envs = c.num_envs
        self.scenario, self.variant = c.info.get("scenario", "?"), c.info.get("variant", "?")
        self.max_episode_steps, self.dt = c.max_episode_steps, c.dt
        self.single_observation_space = box(-np.inf, np.inf, (c.obs_dim,))
        self.single_action_space = box(c.act_low, c.act_high, (c.act_dim,))
        self.observation_space = box(-np.inf, np.inf, (c.num_envs, c.obs_dim))
        self.action_space = box(np.broadcast_to(c.act_low, (c.num_envs, c.act_dim)),
                                np.broadcast_to(c.act_high, (c.num_envs, c.act_dim)),
                                (c.num_envs, c.act_dim))
        self.render_mode, self.render_size = render_mode, (render_width, render_height)
        self.render_envs = list(range(c.num_envs)) if render_envs is None else list(render_envs)
        bad = [i for i in self.render_envs if not 0 <= i < c.num_envs]
        if bad:
            c.close()
            raise ValueError(f"render_envs: env {bad[0]} is not in 0..{c.num_envs - 1}")
        self.closed, self._needs_reset, self._proc = False, True, None

    @property
    def params(self):
        """The dynamics parameters now in effect (name -> value)."""
        return dict(self.client.params)

    def set_dynamics(self, **params):
        """Changes dynamics parameters of every env from the next step on (PROTOCOL.md)."""
        return self.client.set_dynamics(**params)

    def reset(self, *, seed=None, options=None):
        """Resets every env. seed: None (each env continues its own random stream), an int
        (env i gets seed + i, as Gymnasium's SyncVectorEnv) or a list of num_envs ints."""
        self._check_open("reset")
        if options:
            raise ValueError(f"reset: o2o envs take no options (got {sorted(options)})")
        if seed is not None and np.ndim(seed) and len(seed) != self.num_envs:
            raise ValueError(f"reset: {len(seed)} seeds for {self.num_envs} envs")
        obs, info = self.client.reset(seed)
        self._needs_reset = False
        return obs, info

    def step(self, actions):
        """actions: float array of shape (num_envs, act_dim), the shape of action_space.
        Returns obs, reward (float32), terminated, truncated (bool), info with final_obs,
        _final_obs (the mask of envs whose episode ended) and episode_step."""
        self._check_open("step")
        if self._needs_reset:
            raise RuntimeError("step: call reset() before the first step()")
        a = np.asarray(actions)
        if a.shape != self.action_space.shape:
            raise ValueError(f"step: actions have shape {a.shape}, expected (num_envs, act_dim) "
                             f"= {self.action_space.shape} for {self.scenario}/{self.variant}")
        if not np.issubdtype(a.dtype, np.number) or np.iscomplexobj(a):
            raise TypeError(f"step: actions have dtype {a.dtype}, expected real numbers "
                            f"(float32 is sent)")
        obs, reward, terminated, truncated, info = self.client.step(a)
        info["_final_obs"] = terminated | truncated
        return obs, reward, terminated, truncated, info

    def render(self):
        """One uint8 RGB frame [height, width, 3] per env of render_envs, as a tuple (the
        server needs a display: run it under xvfb-run -a on a headless machine)."""
        self._check_open("render")
        if self.render_mode is None:
            return None
        w, h = self.render_size
        # The server's first frame creates its GL context, which can take seconds on a busy
        # machine with software rendering: frames get at least 30 s, not the step timeout.
        keep = self.client.timeout_ms
        self.client.timeout_ms = max(keep, 30000)
        try:
            return tuple(self.client.render(i, w, h) for i in self.render_envs)
        finally:
            self.client.timeout_ms = keep

    def close(self, **kwargs):
        """Disconnects; an o2o-sim started by launch() is also stopped."""
        if self.closed:
            return
        self.closed = True
        if self._proc is not None:
            try:
                self.client.close(close_server=True)
            except Exception:  # server already gone or hung: stopped below anyway
                self.client.sock.close()
            self._proc.stop()
        else:
            self.client.close()

    def _check_open(self, what):
        if self.closed:
            raise RuntimeError(f"{what}: the env is closed")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        if not getattr(self, "closed", True):
            self.close()

    def __repr__(self):
        return (f"o2o.VectorEnv({self.scenario}/{self.variant}, num_envs={self.num_envs}, "
                f"endpoint={self.client.endpoint!r})")


class _SimProcess:
    """An o2o-sim child; killed at interpreter exit if nobody closed it."""

    def __init__(self, args, log):
        self.log = log
        self.popen = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                      stderr=log)
        self._finalizer = weakref.finalize(self, _kill, self.popen)

    def output(self):
        self.log.seek(0)
        return self.log.read().decode(errors="replace").strip()

    def stop(self, timeout=5.0):
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.terminate()
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self._finalizer.detach()
        self.log.close()


def _kill(popen):
    if popen.poll() is None:
        popen.kill()
        popen.wait()


def find_sim(sim=None):
    """The o2o-sim executable: sim, else $O2O_SIM, else o2o-sim on PATH."""
    path = sim or os.environ.get("O2O_SIM") or shutil.which("o2o-sim")
    if not path or not os.access(path, os.X_OK):
        raise FileNotFoundError(f"o2o-sim not found (tried {sim or os.environ.get('O2O_SIM')!r} "
                                "and PATH): pass sim=PATH or set O2O_SIM to build/o2o-sim")
    return path


def launch(scenario, num_envs=1, variant="real", seed=0, sim=None, args=(),
           startup_timeout=30.0, **kwargs):
    """Starts `o2o-sim --scenario SCENARIO --envs NUM_ENVS --variant VARIANT` on a fresh ipc
    endpoint and returns a VectorEnv that stops it on close(). scenario: a name (looked up
    by o2o-sim in $O2O_SCENARIO_PATH, then the source tree) or an .ini path. args: extra
    o2o-sim arguments. kwargs go to VectorEnv (timeout_ms, render_*)."""
    path = find_sim(sim)
    timeout_ms = kwargs.pop("timeout_ms", 5000)
    endpoint = f"ipc://{tempfile.gettempdir()}/o2o-py-{os.getpid()}-{time.monotonic_ns()}.ipc"
    proc = _SimProcess([path, "--scenario", str(scenario), "--envs", str(num_envs), "--variant",
                        variant, "--seed", str(seed), "--endpoint", endpoint, "--quiet",
                        *map(str, args)], tempfile.TemporaryFile())
    deadline = time.monotonic() + startup_timeout
    while True:
        if proc.popen.poll() is not None:
            out = proc.output()
            proc.stop()
            raise RuntimeError(f"o2o-sim exited with status {proc.popen.returncode} before "
                               f"serving: {out or '(no message)'}")
        try:
            env = VectorEnv(endpoint, timeout_ms=200, **kwargs)
            break
        except TimeoutError:
            if time.monotonic() > deadline:
                proc.stop(0.1)
                raise TimeoutError(f"o2o-sim did not answer on {endpoint} within "
                                   f"{startup_timeout} s")
    env.client.timeout_ms = timeout_ms
    env._proc = proc
    return env
