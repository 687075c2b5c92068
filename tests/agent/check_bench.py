#!/usr/bin/python3
"""check_bench.py [--expect-torch STATUS] O2O NAME [ARGS...] - smoke test of one `o2o bench NAME` program: runs
`O2O bench NAME ARGS --json` (JSON on stdout) and fails unless the exit code is 0, the JSON names the
bench and holds every figure the program must report, each a finite number > 0 (the floor
ratio too: a crash or a silent skip shows up here, not only in the text output).
--expect-torch: the JSON's torch status must be STATUS ("off", "ok", "not installed").

The learner benches (bench_learner.c: iql, cql, h2o) also report the FMA peak, the fraction
of it reached and the torch status; `o2o bench sac` has its own loop without them."""
import json
import math
import subprocess
import sys

COMMON = ["o2o_updates_per_s", "floor_updates_per_s", "o2o_gflop_per_update",
          "floor_gflop_per_update", "floor_sgemm_calls", "ratio_o2o_floor", "threads", "rounds",
          "updates"]
# no upper bound on fraction_of_peak: a Debug build measures its FMA peak with an unoptimised loop
LEARNER = ["fma_peak_gflops", "fraction_of_peak"]


def main():
    argv, expect = sys.argv[1:], None
    if argv[:1] == ["--expect-torch"] and len(argv) > 1:
        expect, argv = argv[1], argv[2:]
    if len(argv) < 2:
        sys.exit("usage: check_bench.py [--expect-torch STATUS] O2O NAME [ARGS...]")
    exe, name, args = argv[0], argv[1], argv[2:]
    cmd = [exe, "bench", name, *args, "--json"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    sys.stderr.write(r.stderr)
    if r.returncode != 0:
        sys.stdout.write(r.stdout)
        sys.exit(f"check_bench: {' '.join(cmd)} exited with {r.returncode}")
    try:
        j = json.loads(r.stdout)
    except ValueError as e:
        sys.stdout.write(r.stdout)
        sys.exit(f"check_bench: stdout of {' '.join(cmd)} is not one JSON object ({e})")
    if not str(j.get("bench", "")).startswith(name):
        sys.exit(f"check_bench: JSON bench is {j.get('bench')!r}, expected {name!r}")
    need = COMMON + (LEARNER if name != "sac" else [])
    for k in need:
        v = j.get(k)
        if not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
            sys.exit(f"check_bench: JSON field {k} is {v!r} (want a finite number > 0)")
    if name != "sac":
        if j.get("torch") not in ("off", "ok", "not installed"):
            sys.exit(f"check_bench: JSON torch is {j.get('torch')!r}")
        if expect is not None and j["torch"] != expect:
            sys.exit(f"check_bench: JSON torch is {j['torch']!r}, expected {expect!r}")
    print(f"check_bench: {name}: exit 0, {len(need)} figures present, floor ratio "
          f"{j['ratio_o2o_floor']:.2f}")


if __name__ == "__main__":
    main()
