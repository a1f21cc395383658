#!/usr/bin/env bash
# The demo (./dg demo, after ./dg has built): starts the replay upstream and the
# gateway on their embedded defaults (gateway 127.0.0.1:8080 -> upstream
# 127.0.0.1:8000; other free ports only if those are busy), creates a few
# accounts and keys with the CLI, sends real prompts from data/teacher through the
# gateway with the official `openai` client (demo/traffic.mjs: some streamed, one
# account pushed past its limits) next to a distillation campaign (a bulk
# extractor and a three-account hydra), then prints per account requests, tokens
# and refusals, where the audit log and metrics are, `audit verify`'s verdict, and
# what was caught: the gateway's actions from the audit log and the engine's
# verdicts and reasons (`audit export` | `analyze`, demo/report.mjs), plus an
# HTML report in the work directory. The gateway runs on its embedded defaults
# (stages auth, assess, policy, limit, forward) with a demo watermark key.
#
# usage: demo/run.sh [--quick]
#   env DG_BIN        the binary (default build/src/cli/distillguard)
#   env DG_DEMO_DIR   working directory for SQLite files and logs (default: a new /tmp dir)
#   env DG_DEMO_PORTS=free  always use free ports (tests)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BIN="${DG_BIN:-$ROOT/build/src/cli/distillguard}"
QUICK=""
for a in "$@"; do
  case "$a" in
    --quick) QUICK=--quick ;;
    *) echo "usage: demo/run.sh [--quick]" >&2; exit 2 ;;
  esac
done
[ -x "$BIN" ] || { echo "demo: $BIN not built (run ./dg demo)" >&2; exit 2; }
W="${DG_DEMO_DIR:-$(mktemp -d /tmp/distillguard-demo.XXXXXX)}"
mkdir -p "$W"
DATA="$ROOT/data/teacher/teacher.jsonl"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
say() { printf '\033[1m== %s\033[0m\n' "$*"; }

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
wait_ready() {  # wait_ready URL PID NAME
  for _ in $(seq 1 150); do
    curl -s -o /dev/null --max-time 1 "$1" && return 0
    kill -0 "$2" 2>/dev/null || { echo "demo: $3 exited; its log:" >&2; tail -n 20 "$W/$3.log" >&2; exit 1; }
    sleep 0.1
  done
  echo "demo: $3 did not become ready at $1" >&2; exit 1
}

UP=8000 GW=8080 CFG=()
if [ "${DG_DEMO_PORTS:-}" = free ] || port_busy 8000 || port_busy 8080; then
  UP=$(free_port); GW=$(free_port)
  [ "${DG_DEMO_PORTS:-}" = free ] || say "ports 8000/8080 are busy: using upstream $UP, gateway $GW"
  # The embedded defaults with only the two addresses changed.
  cat >"$W/distillguard.toml" <<TOML
# Written by demo/run.sh: the embedded defaults (default_config()) with other ports.
[server]
listen = "127.0.0.1:$GW"

[[upstream]]
name = "local"
url = "http://127.0.0.1:$UP"
models = ["*"]

[tiers.new]
requests_per_minute = 20
tokens_per_minute = 20000
burst = 30
ramp = { start_fraction = 0.5, full_after_days = 14 }

[tiers.standard]
requests_per_minute = 600
tokens_per_minute = 400000
burst = 30

[tiers.verified]
requests_per_minute = 3000
tokens_per_minute = 2000000
burst = 30

[tiers.enterprise]
requests_per_minute = 10000
tokens_per_minute = 10000000
burst = 30
TOML
  CFG=(--config "$W/distillguard.toml")
fi

say "replay upstream (recorded real model answers, a stand-in for a model server) on 127.0.0.1:$UP"
"$BIN" replay-upstream --listen "127.0.0.1:$UP" --data "$ROOT/data/teacher" >"$W/replay-upstream.log" 2>&1 &
PIDS+=($!)
wait_ready "http://127.0.0.1:$UP/healthz" "${PIDS[-1]}" replay-upstream

say "accounts and keys (distillguard accounts/keys create, in $W)"
echo "{" >"$W/keys.json"; first=1
while read -r account tier; do
  (cd "$W" && "$BIN" accounts "${CFG[@]}" create "$account" --tier "$tier") >"$W/account-$account.log" 2>&1 || {
    cat "$W/account-$account.log" >&2; echo "demo: accounts create $account failed" >&2; exit 1; }
  (cd "$W" && "$BIN" keys "${CFG[@]}" create --account "$account") >"$W/key-$account.log" 2>&1 || {
    cat "$W/key-$account.log" >&2; echo "demo: keys create --account $account failed" >&2; exit 1; }
  secret=$(grep -oE '(dg|sk)-[A-Za-z0-9_-]{20,}' "$W/key-$account.log" | head -n1)
  [ -n "$secret" ] || { cat "$W/key-$account.log" >&2; echo "demo: no key secret in the output" >&2; exit 1; }
  key_id=$(grep -oE 'key_[0-9a-f]+' "$W/key-$account.log" | head -n1 || true)
  printf '   %-14s tier %-9s key %s\n' "$account" "$tier" "${key_id:-(created)}"
  ((first)) || echo "," >>"$W/keys.json"; first=0
  printf '"%s": "%s"' "$account" "$secret" >>"$W/keys.json"
done < <(node demo/traffic.mjs --data "$DATA" --list-accounts)
echo "}" >>"$W/keys.json"

say "gateway: distillguard serve ${CFG[*]:-(embedded defaults)} on 127.0.0.1:$GW"
# A per-run watermark master key (the policy's watermark/canaries need one).
export DG_WATERMARK_MASTER_KEY="${DG_WATERMARK_MASTER_KEY:-demo-$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')}"
(cd "$W" && exec "$BIN" serve "${CFG[@]}") >"$W/gateway.log" 2>&1 &
PIDS+=($!)
wait_ready "http://127.0.0.1:$GW/healthz" "${PIDS[-1]}" gateway

say "traffic: real prompts through the gateway with the openai client${QUICK:+ (quick)}"
echo "   legitimate apps and a distillation campaign side by side; each account connects from its own"
echo "   127.0.<k>.1 address (its own /24, as customers on different networks would)"
node demo/traffic.mjs --base "http://127.0.0.1:$GW/v1" --keys "$W/keys.json" --data "$DATA" \
  --summary "$W/summary.json" $QUICK

# The audit log is written off the request path: wait (bounded) for its backlog to drain.
for _ in $(seq 1 50); do
  curl -s "http://127.0.0.1:$GW/metrics" >"$W/metrics.txt" || true
  grep -qE '^dg_audit_backlog 0$' "$W/metrics.txt" && break
  sleep 0.1
done
metric() { awk -v m="$1" '$1 == m {print $2}' "$W/metrics.txt"; }
say "audit log and metrics"
set +e
(cd "$W" && "$BIN" audit "${CFG[@]}" verify) >"$W/audit-verify.log" 2>&1
rc=$?
set -e
echo "   audit verify: $(head -n1 "$W/audit-verify.log")"
echo "   audit verify exit status: $rc"
echo "   audit log:    $(ls "$W"/*.db 2>/dev/null | tr '\n' ' ')— SQLite, hash-chained, $(metric dg_audit_written_total) records written, backlog $(metric dg_audit_backlog)"
echo "                 inspect: cd $W && $BIN audit${CFG[*]:+ ${CFG[*]}} tail -n 3"
echo "   metrics:      http://127.0.0.1:$GW/metrics (while running); snapshot: $W/metrics.txt"
grep -E '^dg_(requests_total|limit_refusals_total)' "$W/metrics.txt" | awk '$NF != 0' | sed 's/^/                 /' || true
echo "   logs, keys and the traffic summary: $W"

say "what was caught: the gateway's actions (audit log) and the engine's verdicts (audit export | analyze)"
(cd "$W" && "$BIN" audit "${CFG[@]}" export --out "$W/audit.jsonl") >"$W/audit-export.log" 2>&1 || {
  cat "$W/audit-export.log" >&2; echo "demo: audit export failed" >&2; exit 1; }
"$BIN" analyze --input "$W/audit.jsonl" --format json --output "$W/analysis.json" 2>"$W/analyze.log" || {
  cat "$W/analyze.log" >&2; echo "demo: analyze failed" >&2; exit 1; }
"$BIN" analyze --input "$W/audit.jsonl" --format html --output "$W/report.html" 2>>"$W/analyze.log" || {
  cat "$W/analyze.log" >&2; echo "demo: analyze --format html failed" >&2; exit 1; }
node demo/report.mjs --summary "$W/summary.json" --audit "$W/audit.jsonl" --analysis "$W/analysis.json" \
  --out "$W/verdicts.json"
echo "   HTML report:  $W/report.html   (analyze --format html over the demo's audit log)"
echo "   text report:  $BIN analyze --input $W/audit.jsonl --format text"
exit "$rc"
