#!/usr/bin/env bash
# `distillguard analyze` speed, per stage and end to end, in CPU time (the
# machine may be shared; wall time is printed for reference only).
#   bench/engine/analyze_speed.sh [BUILD_DIR] [SCENARIO] [TRACE]
# Defaults: BUILD_DIR=build-espeed or build, SCENARIO=bench/scenarios/mixed-small.toml,
# TRACE=$TMPDIR/<scenario>.jsonl.gz (simulated once, reused when present).
#  1. engine_bench TRACE: read (gunzip + lines), parse, features, engine per record,
#     each from separate passes over the lines in memory (so each stage is attributable);
#  2. analyze --format json on the trace under /usr/bin/time: user + system CPU
#     seconds, records/s per core, peak RSS, accounts.
# The large scenario (bench/scenarios/large.toml) writes a 2.1 GB trace: pass it
# as SCENARIO only with room in $TMPDIR; engine_bench holds the whole text in
# memory, so stage 1 is skipped for traces over 1 GB.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD="${1:-}"
if [ -z "$BUILD" ]; then for b in build-espeed build; do [ -x "$ROOT/$b/src/cli/distillguard" ] && BUILD="$ROOT/$b" && break; done; fi
SCEN="${2:-$ROOT/bench/scenarios/mixed-small.toml}"
NAME="$(basename "$SCEN" .toml)"
TRACE="${3:-${TMPDIR:-/tmp}/$NAME.jsonl.gz}"
BIN="$BUILD/src/cli/distillguard"
BENCH="$BUILD/src/engine/engine_bench"
[ -x "$BIN" ] && [ -x "$BENCH" ] || { echo "build distillguard and engine_bench in $BUILD first" >&2; exit 2; }
if [ ! -s "$TRACE" ]; then
  echo "simulating $NAME -> $TRACE"
  "$BIN" simulate --scenario "$SCEN" --out "$TRACE" --labels "${TRACE%.jsonl.gz}.labels.jsonl" >/dev/null
fi
echo "machine: $(nproc) cores, load average: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "$(stat -c %s "$TRACE")" -lt 1000000000 ]; then
  echo "== engine_bench (per stage, CPU time)"
  "$BENCH" "$TRACE"
fi
echo "== analyze end to end"
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
/usr/bin/time -f "%U %S %e %M" -o "$OUT/time" "$BIN" analyze --input "$TRACE" --format json --output "$OUT/report.json"
read -r user sys wall rss < "$OUT/time"
node -e '
const r = require(process.argv[1]);
const [user, sys, wall, rss] = process.argv.slice(2).map(Number);
const cpu = user + sys, n = r.input.records;
console.log(`${n} records (${r.input.rejected} rejected), ${r.accounts.length} accounts`);
console.log(`CPU ${cpu.toFixed(1)} s (user ${user} + sys ${sys}), wall ${wall} s`);
console.log(`${Math.round(n / cpu)} records/s per core (${(cpu * 1e6 / n).toFixed(2)} us/record), peak RSS ${Math.round(rss / 1024)} MiB`);
' "$OUT/report.json" "$user" "$sys" "$wall" "$rss"
