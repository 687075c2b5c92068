#!/bin/bash
# Copies the small files of the offline benchmark's runs (metrics.csv, config.json, DONE,
# FAILED; never checkpoints) from OUT into DEST, the committed agent/bench/results/data/, so
# the results outlive the machine (runs/ is not committed) and can be reported again:
#
#   agent/bench/results/keep.sh [OUT] [DEST] [RUN...]   # RUN: <dataset>-<algo>/offline/seed<k>
#   ./build/o2o report agent/bench/results/data --out /tmp/offline-report
#   agent/bench/results/table.py agent/bench/results/data
#
# OUT defaults to runs/bench-offline, DEST to data/ beside this script, RUN to every run in
# OUT. o2o train-offline alone writes no DONE: a run whose final.safetensors exists gets a
# DONE in the copy, so the copy says it finished. offline.sh calls this after every run.
set -eu
OUT=${1:-runs/bench-offline}
DEST=${2:-$(dirname "$0")/data}
shift $(($# < 2 ? $# : 2))
if [ $# -eq 0 ]; then
  for d in "$OUT"/*/offline/seed*/; do
    [ -d "$d" ] || continue
    d=${d%/}
    set -- "$@" "${d#"$OUT"/}"
  done
fi
for rel in "$@"; do
  src=$OUT/$rel dst=$DEST/$rel
  [ -d "$src" ] || { echo "keep.sh: no run folder $src" >&2; exit 1; }
  mkdir -p "$dst"
  for f in metrics.csv config.json DONE FAILED; do
    if [ -f "$src/$f" ]; then cp "$src/$f" "$dst/$f.tmp" && mv "$dst/$f.tmp" "$dst/$f"; else rm -f "$dst/$f"; fi
  done
  if [ ! -f "$src/DONE" ] && [ ! -f "$src/FAILED" ] && [ -f "$src/final.safetensors" ]; then
    echo '{"finished": "final.safetensors was written", "copied_by": "keep.sh"}' >"$dst/DONE"
  fi
done
