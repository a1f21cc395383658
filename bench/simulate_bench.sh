#!/usr/bin/env bash
# distillbench simulator speed: simulates bench/scenarios/large.toml (>= 5 million
# exchanges, >= 20,000 accounts) to a gzip trace and prints wall/CPU time,
# throughput and the machine's load. Target: under 2 minutes on 2 cores.
#   bench/simulate_bench.sh [BUILD_DIR] [OUT_DIR]
# Defaults: BUILD_DIR=build, OUT_DIR=$TMPDIR or /tmp (needs about 2.5 GB free).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${1:-$ROOT/build}"
OUT="${2:-${TMPDIR:-/tmp}}/distillbench-large"
BIN="$BUILD/src/cli/distillguard"
[ -x "$BIN" ] || { echo "no binary at $BIN; build first (./dg build)" >&2; exit 2; }
mkdir -p "$OUT"
echo "machine: $(nproc) cores, load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for target in large.jsonl.gz large.jsonl; do
  /usr/bin/time -f "%e s wall, %U s user, %S s system, %M KB max RSS" \
    "$BIN" simulate --scenario "$ROOT/bench/scenarios/large.toml" --out "$OUT/$target" --labels "$OUT/large.labels.jsonl" \
    2>&1 | sed "s|^|$target: |"
  ls -l "$OUT/$target" | awk -v t="$target" '{printf "%s: %.0f MB on disk\n", t, $5 / 1e6}'
  [ "$target" = large.jsonl ] && rm -f "$OUT/large.jsonl"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "labels: $(wc -l < "$OUT/large.labels.jsonl") accounts; trace kept at $OUT/large.jsonl.gz"
