#!/usr/bin/env bash
# Gateway speed benchmark: one mock upstream (`distillguard replay-upstream --fixed`,
# instant fixed responses) and, in the same run, wrk on loopback against
#   (a) direct      the upstream itself
#   (b) nginx       proxy_pass, upstream keep-alive, 1 worker
#   (c) haproxy     1 thread, http-reuse always
#   (d) dg-on       distillguard serve, every issue-2 stage on (auth, limit, audit log)
#   (e) dg-off      distillguard serve, every stage off (plain forwarding)
# At 1 and 32 connections: req/s, p50/p99 latency, CPU per request of the proxy
# process (from /proc/PID/stat), and time to first token of streamed responses.
# Writes bench/results/<UTC time>/ (raw wrk output, results.json),
# bench/results/latest.json and docs/benchmarks.md (not with --no-docs).
#
# usage: bench/run.sh [--quick] [--no-docs] [--wait-idle] [--targets "direct nginx haproxy dg-on dg-off"]
#   --no-docs   leave docs/benchmarks.md and bench/results/latest.json alone
#   --quick     one round of 3 s runs, 1 s warm-up, 100 TTFT requests
#               (default: 3 rounds of 5 s runs, 3 s warm-up, 300 TTFT requests)
#   --wait-idle wait (at most 5 min) for load average < 1 before measuring
#   --rounds N  repeat every wrk measurement N times, interleaved across targets;
#               the report takes medians (CPU per request: totals). Default 3.
#   --duration S seconds per wrk run (default 5; --quick 3)
#   env DG_BIN  the distillguard binary (default build/src/cli/distillguard)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BIN="${DG_BIN:-$ROOT/build/src/cli/distillguard}"
DUR=5 WARM=3 TTFT_N=300 DOCS=1 QUICK=0 WAIT_IDLE=0 ROUNDS=3
TARGETS="direct nginx haproxy dg-on dg-off"
CMDLINE="bench/run.sh $*"
while (($#)); do
  case "$1" in
    --quick) DUR=3 WARM=1 TTFT_N=100 QUICK=1 ROUNDS=1 ;;
    --no-docs) DOCS=0 ;;
    --wait-idle) WAIT_IDLE=1 ;;
    --rounds) ROUNDS="$2"; shift ;;
    --duration) DUR="$2"; shift ;;
    --targets) TARGETS="$2"; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "bench/run.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
for tool in wrk nginx haproxy node curl; do
  command -v "$tool" >/dev/null || { echo "bench/run.sh: $tool not found (run ./dg bench to install)" >&2; exit 2; }
done
[ -x "$BIN" ] || { echo "bench/run.sh: $BIN not built (./dg build)" >&2; exit 2; }

STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
OUT="$ROOT/bench/results/$STAMP"
W="$(mktemp -d /tmp/dg-bench.XXXXXX)"
mkdir -p "$OUT" "$W/nginx-tmp"
TICK="$(getconf CLK_TCK)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$W"
}
trap cleanup EXIT
log() { printf '\033[1m== %s\033[0m\n' "$*" >&2; }

free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
wait_http() {  # wait_http URL: until the port answers (any HTTP status), bounded
  for _ in $(seq 1 100); do
    curl -s -o /dev/null --max-time 1 "$1" && return 0
    sleep 0.1
  done
  echo "bench/run.sh: nothing answers at $1" >&2; return 1
}
# Sum of utime+stime (clock ticks) of the given pids and their child processes.
ticks() {
  local t=0 p f
  # Children found through /proc (procps may not be installed).
  for p in "$@" $(for q in "$@"; do awk -v pp="$q" '$4 == pp {print $1}' /proc/[0-9]*/stat 2>/dev/null || true; done); do
    [ -r "/proc/$p/stat" ] || continue
    f=$(sed 's/^.*) //' "/proc/$p/stat")
    set -- $f
    t=$((t + ${12} + ${13}))
  done
  echo "$t"
}
result_of() { sed -n 's/^RESULT //p' "$1" | tail -n1; }

# --- the mock upstream ---------------------------------------------------------
"$BIN" replay-upstream --fixed --listen 127.0.0.1:0 --model mock-model >"$W/upstream.out" 2>"$W/upstream.err" &
UP_PID=$!; PIDS+=("$UP_PID")
for _ in $(seq 1 100); do grep -q '^listening on' "$W/upstream.out" 2>/dev/null && break; sleep 0.1; done
UP_PORT="$(sed -n 's/^listening on 127.0.0.1://p' "$W/upstream.out")"
[ -n "$UP_PORT" ] || { cat "$W/upstream.err"; echo "bench/run.sh: upstream did not start" >&2; exit 1; }
log "mock upstream (replay-upstream --fixed) on 127.0.0.1:$UP_PORT"

declare -A URL PROC KEY NOTE
URL[direct]="http://127.0.0.1:$UP_PORT"; PROC[direct]="$UP_PID"

start_nginx() {
  local port; port=$(free_port)
  sed -e "s#@W@#$W#g" -e "s#@PORT@#$port#g" -e "s#@UPSTREAM_PORT@#$UP_PORT#g" bench/lib/nginx.conf.in >"$W/nginx.conf"
  nginx -e "$W/nginx-error.log" -c "$W/nginx.conf" >/dev/null 2>&1 &
  PIDS+=($!); PROC[nginx]=$!; URL[nginx]="http://127.0.0.1:$port"
  wait_http "${URL[nginx]}/v1/models"
}
start_haproxy() {
  local port; port=$(free_port)
  sed -e "s#@PORT@#$port#g" -e "s#@UPSTREAM_PORT@#$UP_PORT#g" bench/lib/haproxy.cfg.in >"$W/haproxy.cfg"
  haproxy -f "$W/haproxy.cfg" >"$W/haproxy.log" 2>&1 &
  PIDS+=($!); PROC[haproxy]=$!; URL[haproxy]="http://127.0.0.1:$port"
  wait_http "${URL[haproxy]}/v1/models"
}
# start_dg NAME on|off: distillguard serve with a generated config.
start_dg() {
  local name=$1 mode=$2 port dir cfg key
  if ! "$BIN" serve --help >/dev/null 2>&1; then
    NOTE[$name]="skipped: this build has no 'distillguard serve'"; return 1
  fi
  port=$(free_port); dir="$W/$name"; mkdir -p "$dir"; cfg="$dir/config.toml"
  DG_PORT=$port DG_UP=$UP_PORT DG_DIR=$dir DG_MODE=$mode bash bench/lib/dg-config.sh >"$cfg"
  if [ "$mode" = on ]; then
    "$BIN" accounts --config "$cfg" create bench --tier bench >"$dir/account.out" 2>&1 || {
      NOTE[$name]="skipped: 'distillguard accounts create' failed: $(head -c 300 "$dir/account.out")"; return 1; }
    "$BIN" keys --config "$cfg" create --account bench >"$dir/key.out" 2>&1 || {
      NOTE[$name]="skipped: 'distillguard keys create' failed: $(head -c 300 "$dir/key.out")"; return 1; }
    key=$(grep -oE '(dg|sk)-[A-Za-z0-9_-]{20,}' "$dir/key.out" | head -n1)
    [ -n "$key" ] || { NOTE[$name]="skipped: no key in 'keys create' output"; return 1; }
    KEY[$name]="$key"
  fi
  (cd "$dir" && exec "$BIN" serve --config "$cfg") >"$dir/serve.out" 2>"$dir/serve.err" &
  PIDS+=($!); PROC[$name]=$!; URL[$name]="http://127.0.0.1:$port"
  wait_http "${URL[$name]}/healthz" || { NOTE[$name]="skipped: serve did not start: $(tail -c 300 "$dir/serve.err")"; return 1; }
  # One authenticated request must succeed, or the run would measure refusals.
  local code
  code=$(curl -s -o "$dir/probe.out" -w '%{http_code}' "${URL[$name]}/v1/chat/completions" \
    -H "authorization: Bearer ${KEY[$name]:-sk-bench}" -H 'content-type: application/json' \
    -d '{"model":"mock-model","messages":[{"role":"user","content":"Say this is a test."}],"max_tokens":20}')
  [ "$code" = 200 ] || { NOTE[$name]="skipped: probe request got HTTP $code: $(head -c 200 "$dir/probe.out")"; return 1; }
}

# run_wrk NAME PHASE: one wrk run against NAME, with the proxy's CPU ticks around it.
#   PHASE c32 | c1 | stream_c32 ; writes $OUT/wrk-PHASE-NAME.rROUND.txt and $OUT/NAME.PHASE.rROUND.json
run_wrk() {  # run_wrk NAME PHASE ROUND
  local name=$1 phase=$2 round=$3 url=${URL[$1]}/v1/chat/completions pid=${PROC[$1]} t0 t1 stream=0 conns=(-t2 -c32)
  [ "$phase" = c1 ] && conns=(-t1 -c1)
  [ "$phase" = stream_c32 ] && stream=1
  t0=$(ticks "$pid")
  DG_BENCH_KEY="${KEY[$name]:-sk-bench}" DG_BENCH_STREAM=$stream \
    wrk "${conns[@]}" -d"${DUR}s" --latency -s bench/lib/post.lua "$url" >"$OUT/wrk-$phase-$name.r$round.txt"
  t1=$(ticks "$pid")
  printf '{"res":%s,"ticks":%d}\n' "$(result_of "$OUT/wrk-$phase-$name.r$round.txt")" $((t1 - t0)) >"$OUT/$name.$phase.r$round.json"
}

wait_idle() {  # waits (at most 5 min) for the 1-minute load average to drop below 1.0
  local i
  for i in $(seq 1 60); do
    awk '{exit !($1 < 1.0)}' /proc/loadavg && return 0
    ((i == 1)) && log "waiting for the machine to go idle (load $(cut -d' ' -f1 /proc/loadavg)), at most 5 min"
    sleep 5
  done
  log "machine still busy (load $(cut -d' ' -f1 /proc/loadavg)); measuring anyway"
}

LIVE=()
for t in $TARGETS; do
  case "$t" in
    direct) ;;
    nginx) start_nginx ;;
    haproxy) start_haproxy ;;
    dg-on) start_dg dg-on on || { log "dg-on: ${NOTE[dg-on]}"; continue; } ;;
    dg-off) start_dg dg-off off || { log "dg-off: ${NOTE[dg-off]}"; continue; } ;;
    *) echo "bench/run.sh: unknown target $t" >&2; exit 2 ;;
  esac
  LIVE+=("$t")
done
((WAIT_IDLE)) && wait_idle
LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
# Phase by phase, every target in turn, so a burst of background load hits all
# targets alike rather than one.
for t in "${LIVE[@]}"; do
  log "$t: warm-up ${WARM}s"
  DG_BENCH_KEY="${KEY[$t]:-sk-bench}" wrk -t2 -c32 -d"${WARM}s" -s bench/lib/post.lua "${URL[$t]}/v1/chat/completions" >/dev/null
done
for round in $(seq 1 "$ROUNDS"); do
  for phase in c32 c1 stream_c32; do
    for t in "${LIVE[@]}"; do log "round $round/$ROUNDS: $t: $phase, ${DUR}s"; run_wrk "$t" "$phase" "$round"; done
  done
done
for t in "${LIVE[@]}"; do
  log "$t: time to first token, $TTFT_N streamed requests"
  DG_BENCH_KEY="${KEY[$t]:-sk-bench}" node bench/lib/ttft.mjs "${URL[$t]}" "$TTFT_N" >"$OUT/ttft-$t.txt"
  node bench/lib/aggregate.mjs "$OUT" "$t" "$ROUNDS" >"$OUT/$t.json"
done
LOAD_AFTER="$(cut -d' ' -f1-3 /proc/loadavg)"

# --- results -------------------------------------------------------------------
notes_json="{"; first=1
for k in "${!NOTE[@]}"; do
  ((first)) || notes_json+=","; first=0
  notes_json+="\"$k\":$(node -e 'console.log(JSON.stringify(process.argv[1]))' "${NOTE[$k]}")"
done
notes_json+="}"
{
  printf '{"date":"%s","command":%s,"quick":%s,"rounds":%d,"duration_s":%d,"warmup_s":%d,"ttft_n":%d,"clk_tck":%d,' \
    "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(node -e 'console.log(JSON.stringify(process.argv[1]))' "$CMDLINE")" \
    "$([ $QUICK = 1 ] && echo true || echo false)" "$ROUNDS" "$DUR" "$WARM" "$TTFT_N" "$TICK"
  printf '"machine":{"cpu":%s,"nproc":%d,"kernel":"%s","load_before":"%s","load_after":"%s"},' \
    "$(node -e 'console.log(JSON.stringify(require("os").cpus()[0].model))')" "$(nproc)" "$(uname -r)" "$LOAD_BEFORE" "$LOAD_AFTER"
  printf '"versions":{"nginx":"%s","haproxy":"%s","wrk":"%s","distillguard":"%s","commit":"%s"},' \
    "$(nginx -v 2>&1 | sed 's#.*/##')" "$(haproxy -v | head -n1 | awk '{print $3}')" \
    "$(wrk -v 2>&1 | head -n1 | awk '{print $2}')" "$("$BIN" version | awk '{print $2}')" "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  printf '"notes":%s,"targets":[' "$notes_json"
  first=1
  for t in $TARGETS; do
    [ -f "$OUT/$t.json" ] || continue
    ((first)) || printf ','; first=0
    cat "$OUT/$t.json"
  done
  printf ']}\n'
} >"$OUT/results.json"
node -e 'JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"))' "$OUT/results.json"
node bench/lib/report.mjs "$OUT/results.json" >"$OUT/benchmarks.md"
if ((DOCS)); then
  cp "$OUT/results.json" bench/results/latest.json
  cp "$OUT/benchmarks.md" docs/benchmarks.md
  log "wrote docs/benchmarks.md and bench/results/latest.json"
fi
log "raw results in ${OUT#$ROOT/}"
cat "$OUT/benchmarks.md"
