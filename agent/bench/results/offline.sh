#!/bin/bash
# The offline-learner benchmark (issue: offline pretraining): IQL and CQL on o2o's
# hopper-medium and halfcheetah-medium, 3 seeds each, evaluated on the real variant.
# Resumable: run it again after an interruption; finished runs are skipped, interrupted
# ones continue from their checkpoint (o2o train-offline --resume).
#
#   agent/bench/results/offline.sh [ALGOS] [DATASETS] [SEEDS]
#   STEPS=50000 JOBS=2 O2O=./build/o2o OUT=runs/bench-offline agent/bench/results/offline.sh iql
#
# Each run writes OUT/<dataset>-<algo>/offline/seed<k>/ (config.json, metrics.csv, checkpoints);
# `o2o report OUT` draws the curves and the table, table.py prints the table. After each run
# keep.sh copies its small files into KEEP (default agent/bench/results/data, committed: runs/
# is not; KEEP= turns it off, e.g. for a trial with a small STEPS).
set -u
ALGOS=${1:-"iql cql"}
DATASETS=${2:-"hopper-medium halfcheetah-medium"}
SEEDS=${3:-"1 2 3"}
STEPS=${STEPS:-50000}
JOBS=${JOBS:-2}
O2O=${O2O:-./build/o2o}
OUT=${OUT:-runs/bench-offline}
KEEP=${KEEP-$(dirname "$0")/data}
KEEP_SH=$(dirname "$0")/keep.sh

for ds in $DATASETS; do "$O2O" dataset make "$ds" >&2 || exit 1; done

keep() { if [ -n "$KEEP" ]; then "$KEEP_SH" "$OUT" "$KEEP" "$1"; fi; }
one() { # algo dataset seed
  local algo=$1 ds=$2 seed=$3 scen=${2%-medium}
  local dir=$OUT/$ds-$algo/offline/seed$seed
  local flags=(--normalize-obs --eval-every 5000 --eval-episodes 10 --checkpoint-every 5000)
  [ "$algo" = iql ] && flags+=(--reward-scale auto --max-steps "$STEPS")
  if [ -f "$dir/final.safetensors" ]; then
    echo "done already: $dir" >&2
    keep "$ds-$algo/offline/seed$seed"
    return 0
  fi
  mkdir -p "$dir"
  if [ -f "$dir/checkpoint.safetensors" ]; then
    OPENBLAS_NUM_THREADS=1 "$O2O" train-offline --resume "$dir/checkpoint.safetensors" \
      --steps "$STEPS" "${flags[@]}" >>"$dir/log.txt" 2>&1
  else
    OPENBLAS_NUM_THREADS=1 "$O2O" train-offline --dataset "$ds" --scenario "$scen" --algo "$algo" \
      --seed "$seed" --steps "$STEPS" "${flags[@]}" --out "$dir" --overwrite >>"$dir/log.txt" 2>&1
  fi
  echo "$algo $ds seed $seed: exit $? ($(tail -n 1 "$dir/metrics.csv" 2>/dev/null | cut -d, -f1,3))" >&2
  keep "$ds-$algo/offline/seed$seed"
}
export -f one keep
export STEPS O2O OUT KEEP KEEP_SH
for algo in $ALGOS; do for ds in $DATASETS; do for s in $SEEDS; do echo "$algo $ds $s"; done; done; done |
  xargs -P "$JOBS" -L 1 bash -c 'one "$@"' _
