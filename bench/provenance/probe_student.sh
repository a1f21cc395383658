#!/usr/bin/env bash
# Starts the trace-harvest student behind an OpenAI-compatible server and runs
# `distillguard probe` against it with every account's canaries and keys.
# SERVER=neural_server.py serves the neural student instead of the trigram one (it trains
# first, for minutes: the wait for its port is bounded by WAIT_S, default 1800 s).
set -euo pipefail
cd "$(dirname "$0")"
W=${DG_PROV_WORK:-/tmp/dg-provenance}
BIN=${DG_BIN:-../../build-def/src/cli/distillguard}
mkdir -p "$W"
python3 "${SERVER:-student_server.py}" 0 > "$W/student.port" 2> "$W/student.log" &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
for _ in $(seq 1 $((${WAIT_S:-1800} * 5))); do [ -s "$W/student.port" ] && break; kill -0 $PID 2>/dev/null || exit 1; sleep 0.2; done
PORT=$(head -1 "$W/student.port")
"$BIN" probe --target "http://127.0.0.1:$PORT" --key sk-anything --master-key-file "$W/master.key" \
  --accounts "$W/accounts.txt" --per-kind ${PER_KIND:-20} --answers-out "$W/probe-answers.jsonl" "$@"
