#!/usr/bin/python3
"""Read an o2o checkpoint with numpy alone and run its actor deterministically.

usage: ckpt_numpy.py CHECKPOINT OBS_FILE
  OBS_FILE: raw little-endian float32 observations, [n][obs_dim]
prints one line per observation with the actions tanh(mu) ("%.9e" separated by spaces),
after a first line "tensors N obs_dim D act_dim A".

This is the reference twin of agent/io/policy.c: it parses the safetensors layout itself
(u64 header length, JSON header, raw float32 data) and does the MLP forward in numpy.
"""
import json
import struct
import sys

import numpy as np


def load_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (hlen,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + hlen].decode("utf-8"))
    data = raw[8 + hlen :]
    meta = header.pop("__metadata__", {})
    tensors = {}
    for name, info in header.items():
        assert info["dtype"] == "F32", (name, info["dtype"])
        begin, end = info["data_offsets"]
        arr = np.frombuffer(data[begin:end], dtype="<f4").reshape(info["shape"])
        tensors[name] = arr.astype(np.float32)
    return tensors, meta


def actor_forward(t, obs):
    if "obs_norm.mean" in t:
        obs = (obs - t["obs_norm.mean"]) / t["obs_norm.std"]
    layers = 0
    while f"actor.l{layers}.weight" in t:
        layers += 1
    h = obs.astype(np.float32)
    for l in range(layers):
        h = h @ t[f"actor.l{l}.weight"].T + t[f"actor.l{l}.bias"]
        if l < layers - 1:
            if f"actor.l{l}.ln.weight" in t:
                mu = h.mean(axis=1, keepdims=True)
                var = ((h - mu) ** 2).mean(axis=1, keepdims=True)
                h = (h - mu) / np.sqrt(var + 1e-5)
                h = h * t[f"actor.l{l}.ln.weight"] + t[f"actor.l{l}.ln.bias"]
            h = np.maximum(h, 0)
    act_dim = h.shape[1] // 2
    return np.tanh(h[:, :act_dim]), obs.shape[1], act_dim


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    t, meta = load_safetensors(sys.argv[1])
    obs_dim = t["actor.l0.weight"].shape[1]
    obs = np.fromfile(sys.argv[2], dtype="<f4").reshape(-1, obs_dim)
    act, d, a = actor_forward(t, obs)
    print(f"tensors {len(t)} obs_dim {d} act_dim {a} algorithm {meta.get('algorithm', '?')}")
    for row in act:
        print(" ".join("%.9e" % v for v in row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
