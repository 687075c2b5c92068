"""Writes the seed inputs of the wire fuzzer (tests/bridge/corpus/seed-*): one valid
message of every type plus a few broken ones, in the format of fuzz_frames.h
(byte 0 = frame count, then per frame a u16 LE length and the bytes)."""
import os
import struct
import sys

H = struct.Struct("<IHHII10id")


def hdr(t, rid=1, flags=0, code=0, n=0, o=0, a=0, env=0, w=0, h=0, s=0, p=0, mx=0, dt=0.0):
    return H.pack(0x574F324F, 1, t, rid, flags, code, n, o, a, env, w, h, s, p, mx, dt)


def msg(*frames):
    out = bytes([len(frames)])
    for f in frames:
        out += struct.pack("<H", len(f)) + f
    return out


def f32(*v): return struct.pack(f"<{len(v)}f", *v)
def f64(*v): return struct.pack(f"<{len(v)}d", *v)
def name(s): return s.encode().ljust(32, b"\0")


seeds = {
    "hello": msg(hdr(1)),
    "spec": msg(hdr(0x81, n=2, o=3, a=1, s=4, p=1, mx=100, dt=0.01),
                b"scenario=pendulum\nvariant=real\ntask=pendulum\n", f32(-2), f32(2),
                name("gravity_scale"), f64(1.0)),
    "reset": msg(hdr(2, n=2), struct.pack("<2Q", 1, 2)),
    "reset_noseed": msg(hdr(2, flags=1, n=2), b""),
    "reset_reply": msg(hdr(0x82, n=2, o=3), f32(*range(6))),
    "step": msg(hdr(3, n=2, a=1), f32(0.5, -0.5)),
    "step_reply": msg(hdr(0x83, n=2, o=1), f32(1, 2), f32(0.1, 0.2), b"\0\1", b"\0\0",
                      f32(1, 3), struct.pack("<2i", 5, 0)),
    "set_dynamics": msg(hdr(4, p=2), name("gravity_scale") + name("action_delay"), f64(1.5, 2)),
    "dynamics_reply": msg(hdr(0x84, p=1), name("mass_scale"), f64(2)),
    "get_state": msg(hdr(5, env=1)),
    "state_reply": msg(hdr(0x85, env=0, s=3), f64(0.1, 0.2, 0.3)),
    "set_state": msg(hdr(6, env=0, s=3), f64(0.1, 0.2, 0.3)),
    "set_state_reply": msg(hdr(0x86)),
    "get_states": msg(hdr(5, env=1, n=2)),
    "states_reply": msg(hdr(0x85, env=0, n=2, s=2), f64(0.1, 0.2, 0.3, 0.4)),
    "set_states": msg(hdr(6, env=0, n=2, s=2), f64(0.1, 0.2, 0.3, 0.4)),
    "set_states_reply": msg(hdr(0x86, env=0, n=2)),
    "render": msg(hdr(7, env=0, w=4, h=2)),
    "render_reply": msg(hdr(0x87, env=0, w=2, h=1), bytes(range(6))),
    "close": msg(hdr(8)),
    "close_reply": msg(hdr(0x88)),
    "error": msg(hdr(0xFF, code=5), b"STEP frame 1 has 4 bytes"),
    "bad_version": msg(hdr(3, n=1, a=1)[:4] + b"\2\0" + hdr(3, n=1, a=1)[6:], f32(0)),
    "nan_action": msg(hdr(3, n=1, a=2), f32(0, float("nan"))),
    "short_header": msg(hdr(1)[:20]),
    "huge_dims": msg(hdr(3, n=0x7FFFFFFF, a=16), b""),
    "empty": b"",
}
out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus")
os.makedirs(out, exist_ok=True)
for k, v in seeds.items():
    with open(os.path.join(out, "seed-" + k), "wb") as f:
        f.write(v)
print(f"wrote {len(seeds)} seeds to {out}")
