#!/usr/bin/env bash
# Fuzz the bridge's message decoder with libFuzzer for a bounded time and merge new
# interesting inputs into tests/bridge/corpus (replayed by test_wire's corpus_replay).
# Needs clang and libclang-rt-14-dev (Debian). Usage: tests/bridge/run_fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-180}
out=${TMPDIR:-/tmp}/o2o-fuzz-wire
mkdir -p "$out/new" "$out/artifacts"
clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -Ibridge -Itests/bridge tests/bridge/fuzz_wire.c bridge/wire.c -o "$out/fuzz_wire"
"$out/fuzz_wire" -max_total_time="$secs" -max_len=4096 -print_final_stats=1 \
  -artifact_prefix="$out/artifacts/" "$out/new" tests/bridge/corpus
# Keep only inputs that add coverage to the committed corpus.
"$out/fuzz_wire" -merge=1 tests/bridge/corpus "$out/new" 2>&1 | tail -n 2
echo "corpus: $(ls tests/bridge/corpus | wc -l) files; crashes: $(ls "$out/artifacts" | wc -l)"
