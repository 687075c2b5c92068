"""o2o.client: the low-level client of o2o-sim, one method per message of bridge/PROTOCOL.md.

Needs only pyzmq and numpy (Debian: python3-zmq, python3-numpy). Most users want the
Gymnasium-style o2o.VectorEnv built on it; this class is the wire, one call per request:

    from o2o import O2OClient
    env = O2OClient("ipc:///tmp/o2o-sim-1234.ipc")
    obs, info = env.reset(seed=0)          # obs: float32 [num_envs, obs_dim]
    obs, reward, terminated, truncated, info = env.step(actions)  # actions [num_envs, act_dim]
    env.close()                            # disconnect (close_server=True also stops o2o-sim)

All envs of the server step together; autoreset is SAME_STEP: when an episode ends,
obs[i] is already the next episode's first observation and info["final_obs"][i] the last
observation of the one that ended.
"""
import struct

import numpy as np
import zmq

VERSION, MAGIC = 1, 0x574F324F
HEADER = struct.Struct("<IHHII10id")  # 64 bytes, offsets in PROTOCOL.md
HELLO, RESET, STEP, SET_DYNAMICS, GET_STATE, SET_STATE, RENDER, CLOSE = range(1, 9)
ERROR, REPLY, NO_SEEDS = 0xFF, 0x80, 1
ERROR_NAMES = ["OK", "BAD_HEADER", "VERSION", "UNKNOWN_TYPE", "BAD_FRAMES", "BAD_SIZE",
               "BAD_DIMS", "NONFINITE", "TOO_LARGE", "BAD_ARG", "SIM", "RENDER", "INTERNAL"]


class O2OError(RuntimeError):
    """The server answered ERROR; .code is the numeric code, .name its name."""

    def __init__(self, code, text):
        self.code = code
        self.name = ERROR_NAMES[code] if 0 <= code < len(ERROR_NAMES) else str(code)
        super().__init__(f"{self.name}: {text}")


def _header(mtype, rid, flags=0, num_envs=0, obs_dim=0, act_dim=0, env=0, width=0, height=0,
            state_dim=0, num_params=0):
    return HEADER.pack(MAGIC, VERSION, mtype, rid, flags, 0, num_envs, obs_dim, act_dim, env,
                       width, height, state_dim, num_params, 0, 0.0)


def _names(names):
    return b"".join(n.encode().ljust(32, b"\0") for n in names)


class O2OClient:
    def __init__(self, endpoint, timeout_ms=5000):
        self.ctx = zmq.Context.instance()
        self.sock = self.ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect(endpoint)
        self.endpoint, self.timeout_ms, self.rid = endpoint, timeout_ms, 0
        try:
            h, f = self._call(_header(HELLO, 0))
        except BaseException:
            self.sock.close()  # a failed HELLO must not leave a socket behind
            raise
        self.num_envs, self.obs_dim, self.act_dim = h["num_envs"], h["obs_dim"], h["act_dim"]
        self.state_dim, self.dt = h["state_dim"], h["dt"]
        self.max_episode_steps = h["max_episode_steps"]
        self.info = dict(line.split("=", 1) for line in f[0].decode().splitlines() if "=" in line)
        self.act_low = np.frombuffer(f[1], "<f4").copy()
        self.act_high = np.frombuffer(f[2], "<f4").copy()
        self.params = self._params(h["num_params"], f[3], f[4])

    @staticmethod
    def _params(n, names, values):
        vals = np.frombuffer(values, "<f8")
        return {names[32 * i:32 * (i + 1)].rstrip(b"\0").decode(): float(vals[i]) for i in range(n)}

    def _call(self, header, *arrays):
        self.rid += 1
        header = header[:8] + struct.pack("<I", self.rid) + header[12:]
        self.sock.send_multipart([header, *[memoryview(np.ascontiguousarray(a)) if
                                            isinstance(a, np.ndarray) else a for a in arrays]])
        while True:  # skip late replies to requests that timed out
            if not self.sock.poll(self.timeout_ms):
                raise TimeoutError(f"no reply from o2o-sim at {self.endpoint} within "
                                   f"{self.timeout_ms} ms")
            frames = self.sock.recv_multipart()
            vals = HEADER.unpack(frames[0]) if len(frames[0]) == 64 else (0,) * 16
            if vals[0] != MAGIC:
                raise RuntimeError("reply is not an o2o message")
            if vals[1] != VERSION:
                raise RuntimeError(f"server speaks protocol {vals[1]}, this client {VERSION}")
            if vals[3] == self.rid:
                break
        keys = ("magic version type request_id flags code num_envs obs_dim act_dim env width "
                "height state_dim num_params max_episode_steps dt").split()
        h = dict(zip(keys, vals))
        if h["type"] == ERROR:
            raise O2OError(h["code"], frames[1].decode(errors="replace"))
        return h, frames[1:]

    def reset(self, seed=None):
        """seed: None (continue each env's RNG), an int (env i gets seed + i) or a list."""
        if seed is None:
            h, f = self._call(_header(RESET, 0, NO_SEEDS, self.num_envs), b"")
        else:
            seeds = np.asarray(seed if np.ndim(seed) else np.arange(self.num_envs) + seed, "<u8")
            h, f = self._call(_header(RESET, 0, 0, self.num_envs), seeds)
        return np.frombuffer(f[0], "<f4").reshape(self.num_envs, self.obs_dim).copy(), {}

    def step(self, actions):
        """actions: [num_envs, act_dim] (any array of num_envs * act_dim numbers is accepted)."""
        a = np.asarray(actions, "<f4")
        if a.size != self.num_envs * self.act_dim:
            raise ValueError(f"step: actions of shape {a.shape} ({a.size} numbers); expected "
                             f"(num_envs, act_dim) = ({self.num_envs}, {self.act_dim})")
        a = a.reshape(self.num_envs, self.act_dim)
        h, f = self._call(_header(STEP, 0, 0, self.num_envs, 0, self.act_dim), a)
        n, o = self.num_envs, self.obs_dim
        obs = np.frombuffer(f[0], "<f4").reshape(n, o).copy()
        reward = np.frombuffer(f[1], "<f4").copy()
        terminated = np.frombuffer(f[2], np.uint8).astype(bool)
        truncated = np.frombuffer(f[3], np.uint8).astype(bool)
        info = {"final_obs": np.frombuffer(f[4], "<f4").reshape(n, o).copy(),
                "episode_step": np.frombuffer(f[5], "<i4").copy()}
        return obs, reward, terminated, truncated, info

    def set_dynamics(self, **params):
        vals = np.array(list(params.values()), "<f8")
        h, f = self._call(_header(SET_DYNAMICS, 0, num_params=len(params)), _names(params), vals)
        self.params = self._params(h["num_params"], f[0], f[1])
        return self.params

    def get_state(self, env=0):
        h, f = self._call(_header(GET_STATE, 0, env=env))
        return np.frombuffer(f[0], "<f8").copy()

    def set_state(self, env, state):
        state = np.asarray(state, "<f8")
        self._call(_header(SET_STATE, 0, env=env, state_dim=state.size), state)

    def get_states(self, env=0, n=None):
        """States of envs [env, env + n) (default: to the last env) in one message: [n, state_dim]."""
        n = self.num_envs - env if n is None else n
        h, f = self._call(_header(GET_STATE, 0, env=env, num_envs=n))
        return np.frombuffer(f[0], "<f8").reshape(n, -1).copy()

    def set_states(self, env, states):
        """Sets envs [env, env + len(states)) in one message, all or nothing."""
        states = np.ascontiguousarray(states, "<f8")
        n, dim = states.shape
        self._call(_header(SET_STATE, 0, env=env, num_envs=n, state_dim=dim), states)

    def render(self, env=0, width=320, height=240):
        h, f = self._call(_header(RENDER, 0, env=env, width=width, height=height))
        return np.frombuffer(f[0], np.uint8).reshape(height, width, 3).copy()

    def close(self, close_server=False):
        if close_server:
            self._call(_header(CLOSE, 0))
        self.sock.close()
