#!/usr/bin/python3
"""The offline-learner benchmark's table, from the run folders offline.sh writes.

usage: table.py [OUT]      (OUT default runs/bench-offline; agent/bench/results/data is the
                            committed copy keep.sh makes)
One row per dataset x algorithm: seeds finished, and per seed the final evaluation's D4RL
score (the return where the task has none) with its step; then the mean and std over finished
seeds. A run is finished when its final.safetensors or DONE exists, failed with FAILED.
Standard library only. `o2o report OUT` draws the curves of the same folders.
"""
import csv
import glob
import math
import os
import sys


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "runs/bench-offline"
    print("| dataset | algo | seed: final D4RL score (step) | finished | mean +- std (finished) |")
    print("|---|---|---|---|---|")
    for d in sorted(glob.glob(os.path.join(out, "*", "offline"))):
        name = os.path.basename(os.path.dirname(d))
        ds, algo = name.rsplit("-", 1) if "-" in name else (name, "offline")
        cells, done = [], []
        for s in sorted(glob.glob(os.path.join(d, "seed*"))):
            try:
                rows = list(csv.DictReader(open(os.path.join(s, "metrics.csv"))))
            except OSError:
                continue
            if not rows:
                continue
            last = rows[-1]
            score = float(last["d4rl_score"] or last["eval_return_mean"])
            fin = any(os.path.exists(os.path.join(s, f)) for f in ("final.safetensors", "DONE"))
            state = "" if fin else ", failed" if os.path.exists(os.path.join(s, "FAILED")) else ", running"
            cells.append("%s: %.1f (%s%s)" % (os.path.basename(s), score, last["step"], state))
            if fin:
                done.append(score)
        if done:
            m = sum(done) / len(done)
            sd = math.sqrt(sum((x - m) ** 2 for x in done) / len(done))
            agg = "%.1f +- %.1f" % (m, sd)
        else:
            agg = "-"
        print("| %s | %s | %s | %d | %s |" % (ds, algo, "; ".join(cells), len(done), agg))


if __name__ == "__main__":
    main()
