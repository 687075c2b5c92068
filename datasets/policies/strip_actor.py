#!/usr/bin/python3
"""Keep only the actor of an o2o checkpoint (safetensors): what `o2o collect --policy`
and `o2o eval` need, ~10x smaller than the full learner state (critics, Adam moments).

usage: strip_actor.py IN.safetensors OUT.safetensors [key=value ...]
Extra key=value pairs are added to the metadata (e.g. role=medium eval_return=362.8).
Uses only the Python standard library; the byte layout is checkpoint.h's.
"""
import json
import struct
import sys


def main():
    src, dst, extra = sys.argv[1], sys.argv[2], sys.argv[3:]
    data = open(src, "rb").read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    body = data[8 + n:]
    meta = dict(header.pop("__metadata__", {}))
    # A learner checkpoint names its settings "<algorithm>.<field>"; an actor-only file keeps
    # them plain (the loader reads such a file as a tanh-Gaussian actor, not as a learner).
    algo = meta.get("algorithm", "")
    meta = {(k[len(algo) + 1:] if algo and k.startswith(algo + ".") else k): v
            for k, v in meta.items()}
    for kv in extra:
        k, v = kv.split("=", 1)
        meta[k] = v
    keep = [k for k in header if k.startswith("actor.l") or k.startswith("obs_norm.")]
    keep = [k for k in keep if "adam" not in k]
    out_header, blobs, off = {"__metadata__": meta}, [], 0
    for k in keep:
        a, b = header[k]["data_offsets"]
        blob = body[a:b]
        out_header[k] = {"dtype": header[k]["dtype"], "shape": header[k]["shape"],
                         "data_offsets": [off, off + len(blob)]}
        blobs.append(blob)
        off += len(blob)
    text = json.dumps(out_header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(dst, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


if __name__ == "__main__":
    main()
