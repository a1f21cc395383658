#!/usr/bin/env bash
# The replay upstream as a real process, talked to with curl and the official
# `openai` npm client: known prompt -> its recorded answer, unknown -> nearest,
# streaming reassembles to the non-streamed text, usage present, timing flags.
set -euo pipefail
: "${DG_BIN:?}" "${DG_SOURCE_DIR:?}" "${DG_TMP:?}"
rm -rf "$DG_TMP" && mkdir -p "$DG_TMP"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

# start NAME ARGS... : starts a replay upstream on a free port, sets PORT_<NAME>.
start() {
  local name=$1; shift
  "$DG_BIN" replay-upstream --listen 127.0.0.1:0 "$@" >"$DG_TMP/$name.out" 2>"$DG_TMP/$name.err" &
  PIDS+=($!)
  for _ in $(seq 1 100); do
    if grep -q '^listening on ' "$DG_TMP/$name.out" 2>/dev/null; then
      printf -v "PORT_$name" '%s' "$(sed -n 's/^listening on 127.0.0.1://p' "$DG_TMP/$name.out")"
      return 0
    fi
    kill -0 "${PIDS[-1]}" 2>/dev/null || { cat "$DG_TMP/$name.err"; echo "replay-upstream $name died"; exit 1; }
    sleep 0.1
  done
  echo "replay-upstream $name did not start"; exit 1
}

start fast --data "$DG_SOURCE_DIR/data/teacher"
start slow --data "$DG_SOURCE_DIR/data/teacher" --ttft-ms 300 --tokens-per-second 400 --chunk-tokens 4
start fixed --fixed --model mock-model --strict-models
base="http://127.0.0.1:$PORT_fast"

# curl: a known prompt returns its recorded answer, byte for byte.
first=$(head -n1 "$DG_SOURCE_DIR/data/teacher/teacher.jsonl")
node -e 'const r=JSON.parse(process.argv[1]); process.stdout.write(JSON.stringify({model:"teacher-1",messages:[{role:"user",content:r.prompt}]}))' "$first" >"$DG_TMP/known.json"
curl -sS -D "$DG_TMP/known.h" -o "$DG_TMP/known.out" "$base/v1/chat/completions" -H 'content-type: application/json' --data-binary @"$DG_TMP/known.json"
grep -qi '^x-replay-match: exact' "$DG_TMP/known.h" || { echo "known prompt: not an exact match"; cat "$DG_TMP/known.h"; exit 1; }
node -e '
const rec = JSON.parse(process.argv[1]); const out = JSON.parse(require("fs").readFileSync(process.argv[2], "utf8"));
if (out.choices[0].message.content !== rec.response) { console.error("recorded answer differs"); process.exit(1); }
if (!(out.usage.prompt_tokens > 0 && out.usage.completion_tokens > 0)) { console.error("no usage"); process.exit(1); }' "$first" "$DG_TMP/known.out"

# curl: streaming is a real text/event-stream ending in [DONE]; errors are OpenAI-shaped.
curl -sSN -D "$DG_TMP/stream.h" -o "$DG_TMP/stream.out" "$base/v1/chat/completions" \
  -d '{"model":"teacher-1","stream":true,"messages":[{"role":"user","content":"Explain TCP slow start"}]}'
grep -qi '^content-type: text/event-stream' "$DG_TMP/stream.h"
grep -qi '^transfer-encoding: chunked' "$DG_TMP/stream.h"
[ "$(tail -c 14 "$DG_TMP/stream.out" | tr '\n' '|')" = "data: [DONE]||" ] || { echo "stream does not end with [DONE]"; exit 1; }
code=$(curl -s -o "$DG_TMP/bad.out" -w '%{http_code}' "$base/v1/chat/completions" -d '{oops')
[ "$code" = 400 ] && grep -q '"error"' "$DG_TMP/bad.out"
code=$(curl -s -o /dev/null -w '%{http_code}' "$base/v1/nowhere")
[ "$code" = 404 ]
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT_fixed/v1/chat/completions" \
  -d '{"model":"other","messages":[{"role":"user","content":"hi"}]}')
[ "$code" = 404 ] || { echo "--strict-models: got $code for an unlisted model"; exit 1; }

# Keep-alive: two requests on one connection. Body limit: 413.
reuse=$(curl -sv -o /dev/null -o /dev/null "$base/v1/models" "$base/v1/models" 2>&1 | grep -ci 're-using existing connection' || true)
[ "$reuse" -ge 1 ] || { echo "connection not kept alive"; exit 1; }
head -c 9000000 /dev/zero | tr '\0' 'a' >"$DG_TMP/big.json"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Expect: 100-continue' "$base/v1/chat/completions" --data-binary @"$DG_TMP/big.json")
[ "$code" = 413 ] || { echo "9 MB body: got $code, want 413"; exit 1; }

# The official openai client: nearest match, stream == non-stream, usage, n, logprobs,
# reasoning, timing.
node "$DG_SOURCE_DIR/tests/replay/openai_client.mjs" "$PORT_fast" "$PORT_slow" "$PORT_fixed" \
  "$DG_SOURCE_DIR/data/teacher/teacher.jsonl"
echo "replay_upstream: ok"
