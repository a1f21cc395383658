#!/usr/bin/env bash
# The gateway as a real process in front of the fault-injecting fake upstream,
# driven with curl (auth and limit off: this test is about proxying). Covers
# streaming and not, every gateway error status, an upstream dying mid-stream,
# a client disconnecting mid-stream, metrics, graceful stop, and exactly one
# audit record per exchange.
source "$(dirname "$0")/lib.sh"
start_fake_upstream
# A second upstream that closes idle keep-alive connections after 100 ms.
KEEPALIVE_MS=100 node "$HERE/fake_upstream.mjs" > "$DG_TMP/short.out" 2> "$DG_TMP/short.err" &
PIDS+=($!)
SHORT=$(wait_listening "$DG_TMP/short.out")
write_config "$DG_TMP/cfg.toml" '"forward"' "
[[upstream]]
name = \"short\"
url = \"http://$SHORT\"
models = [\"short-ka\"]

[[upstream]]
name = \"patient\"
url = \"http://$UP\"
models = [\"patient-1\"]
first_byte_timeout_ms = 30000"
start_gateway "$DG_TMP/cfg.toml"
B="http://$GW"
N=0  # exchanges sent (each must produce one record)
chat() { echo "{\"model\":\"fake-1\",$1\"messages\":[{\"role\":\"user\",\"content\":\"$2\"}]}"; }

# Non-streamed chat, completions, models.
out=$(curl -s "$B/v1/chat/completions" -H 'content-type: application/json' -d "$(chat '' 'hello chunks:3')"); N=$((N+1))
echo "$out" | grep -q '"content":"w0 w1 w2 "' || fail "chat body: $out"
ok "chat completion relayed"
out=$(curl -s "$B/v1/completions" -d '{"model":"fake-1","prompt":"p chunks:2"}'); N=$((N+1))
echo "$out" | grep -q '"text":"w0 w1 "' || fail "completions body: $out"
ok "completion relayed"
out=$(curl -s "$B/v1/models"); N=$((N+1))
echo "$out" | grep -q '"id":"fake-1"' || fail "models: $out"
ok "models proxied to the wildcard upstream"

# Streamed: every event relayed, in order, ending with [DONE].
out=$(curl -s -N "$B/v1/chat/completions" -d "$(chat '"stream":true,' 'chunks:4 delay:10')"); N=$((N+1))
[ "$(echo "$out" | grep -c '^data: {')" -eq 6 ] || fail "stream events: $out"
echo "$out" | tail -2 | grep -q '^data: \[DONE\]' || fail "stream end: $out"
ok "stream relayed event by event"

# Streamed chunks arrive as they are produced, not at the end: with 300 ms
# between chunks the first must be there long before the last.
node -e '
const t0 = Date.now(); let first = -1;
fetch(process.argv[1], {method: "POST", body: process.argv[2]}).then(async (r) => {
  for await (const c of r.body) { if (first < 0) first = Date.now() - t0; }
  const total = Date.now() - t0;
  if (!(first >= 0 && total - first >= 500)) { console.error("first", first, "total", total); process.exit(1); }
});' "$B/v1/chat/completions" "$(chat '"stream":true,' 'chunks:3 delay:300')" || fail "stream was buffered"
N=$((N+1))
ok "stream not buffered (first chunk well before the last)"

# Error statuses, each in the OpenAI error shape.
expect_error() {  # STATUS CODE curl-args...
  local want=$1 code=$2; shift 2
  local body; body=$(curl -s -w '\n%{http_code}' "$@"); N=$((N+1))
  local got=${body##*$'\n'}; body=${body%$'\n'*}
  [ "$got" = "$want" ] || fail "want $want got $got: $body ($*)"
  echo "$body" | grep -q "\"code\":\"$code\"" || fail "want code $code: $body"
  echo "$body" | grep -q '"error":{"message":' || fail "not an OpenAI error body: $body"
  ok "$want $code"
}
expect_error 400 invalid_json "$B/v1/chat/completions" -d '{"model":'
expect_error 400 invalid_request "$B/v1/chat/completions" -d '{"messages":[]}'
expect_error 404 unknown_url "$B/v1/embeddings" -d '{}'
expect_error 405 method_not_allowed "$B/v1/chat/completions"
head -c 70000 /dev/zero | tr '\0' 'a' > "$DG_TMP/big.txt"
expect_error 413 request_too_large "$B/v1/chat/completions" --data-binary @"$DG_TMP/big.txt"
expect_error 502 upstream_unreachable "$B/v1/chat/completions" -d '{"model":"dead-model","messages":[]}'
expect_error 504 upstream_timeout "$B/v1/chat/completions" -d "$(chat '' 'hang')"

# The upstream dies mid-stream: the client's stream ends with an error event.
out=$(curl -s -N "$B/v1/chat/completions" -d "$(chat '"stream":true,' 'chunks:5 die:2')"); N=$((N+1))
echo "$out" | grep -q '"content":"w1 "' || fail "chunks before the failure missing: $out"
echo "$out" | grep -q '^data: {"error":{.*"code":"upstream_failed"' || fail "no SSE error event: $out"
ok "upstream death mid-stream -> SSE error event"
# ... and one that goes silent mid-stream (idle timeout 1.5 s).
out=$(curl -s -N "$B/v1/chat/completions" -d "$(chat '"stream":true,' 'chunks:3 delay:4000')"); N=$((N+1))
echo "$out" | grep -q '^data: {"error":{.*idle timeout' || fail "no idle-timeout error event: $out"
ok "silent upstream mid-stream -> SSE error event"

# A client that disconnects mid-stream cancels the upstream request.
before=$(upstream_stat cancelled)
curl -s -N --max-time 0.5 "$B/v1/chat/completions" -d "$(chat '"stream":true,' 'chunks:200 delay:20')" > /dev/null || true
N=$((N+1))
for i in $(seq 1 100); do [ "$(upstream_stat cancelled)" -gt "$before" ] && break; sleep 0.05; done
[ "$(upstream_stat cancelled)" -gt "$before" ] || fail "upstream never saw the cancel"
ok "client disconnect cancels the upstream request"

# ... and so does one that goes away while a non-streamed answer is pending
# (first-byte timeout 30 s there: only the client watch can end it sooner).
before=$(upstream_stat cancelled)
curl -s --max-time 0.5 "$B/v1/chat/completions" \
  -d '{"model":"patient-1","messages":[{"role":"user","content":"hang"}]}' > /dev/null || true
N=$((N+1))
for i in $(seq 1 100); do [ "$(upstream_stat cancelled)" -gt "$before" ] && break; sleep 0.05; done
[ "$(upstream_stat cancelled)" -gt "$before" ] || fail "upstream never saw the cancel of a non-streamed request"
ok "client disconnect cancels a pending non-streamed request"

# Keep-alive: several requests on one connection.
out=$(curl -s "$B/v1/chat/completions" -d "$(chat '' 'chunks:1')" --next "$B/v1/chat/completions" -d "$(chat '' 'chunks:1')" -w '\nconnects=%{num_connects}\n')
N=$((N+2))
echo "$out" | grep -q '^connects=0$' || fail "second request opened a new connection: $out"
ok "keep-alive"

# A pooled connection the upstream closed while idle is retried transparently.
short_stat() { curl -s "http://$SHORT/_stats" | node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>console.log(JSON.parse(s)['$1']))"; }
[ "$(status_of "$B/v1/chat/completions" -d '{"model":"short-ka","messages":[]}')" = 200 ] || fail "short keep-alive upstream"
for i in $(seq 1 100); do [ "$(short_stat sockets_closed)" -ge 1 ] && break; sleep 0.05; done
[ "$(short_stat sockets_closed)" -ge 1 ] || fail "upstream never closed its idle connection"
[ "$(status_of "$B/v1/chat/completions" -d '{"model":"short-ka","messages":[]}')" = 200 ] || fail "stale pooled connection not retried"
N=$((N+2))
ok "stale pooled upstream connection retried"

# Pipelining: two requests in one write, answered in order on one connection.
node -e '
const net = require("net");
const [host, port] = process.argv[1].split(":");
const body = process.argv[2];
const req = `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
const s = net.connect(+port, host, () => s.write(req + req));
let got = "";
const t = setTimeout(() => { console.error("timeout:", got); process.exit(1); }, 5000);
s.on("data", (d) => {
  got += d;
  if ((got.match(/HTTP\/1\.1 200/g) || []).length === 2 && got.trimEnd().endsWith("}}")) { clearTimeout(t); s.destroy(); }
});' "$GW" "$(chat '' 'chunks:1')" || fail "pipelined requests"
N=$((N+2))
ok "pipelined requests"

# healthz and metrics are not exchanges.
[ "$(status_of "$B/healthz")" = 200 ] || fail healthz
m=$(curl -s "$B/metrics")
echo "$m" | grep -q '^dg_requests_total{route="/v1/chat/completions",status="200",tier="-"}' || fail "metrics: $m"
echo "$m" | grep -q '^dg_local_replies_total{code="upstream_timeout"} 1' || fail "metrics local replies: $m"
echo "$m" | grep -q '^dg_upstream_first_byte_seconds_count ' || fail "metrics histogram"
echo "$m" | grep -q '^dg_audit_backlog ' || fail "metrics audit"
ok "metrics"

# Graceful stop: a stream in flight at SIGTERM still completes; then the
# audit log is flushed with exactly one record per exchange.
curl -s -N "$B/v1/chat/completions" -d "$(chat '"stream":true,' 'chunks:8 delay:100')" > "$DG_TMP/inflight.txt" &
CURL_PID=$!
PIDS+=($CURL_PID)
N=$((N+1))
for i in $(seq 1 100); do grep -q '^data: ' "$DG_TMP/inflight.txt" 2>/dev/null && break; sleep 0.05; done
stop_gateway
wait "$CURL_PID" || true
grep -q '^data: \[DONE\]' "$DG_TMP/inflight.txt" || fail "in-flight stream cut by SIGTERM: $(cat "$DG_TMP/inflight.txt")"
ok "in-flight stream completes on SIGTERM"
got=$(audit_count)
[ "$got" -eq "$N" ] || fail "audit log has $got records for $N exchanges"
[ "$(wc -l < "$DG_TMP/audit.jsonl")" -eq "$N" ] || fail "jsonl mirror has $(wc -l < "$DG_TMP/audit.jsonl") lines for $N"
sqlite3 "$DG_TMP/dg.db" "SELECT record FROM audit_log WHERE record LIKE '%die:2%'" | grep -q '"code":"upstream_failed"' \
  || fail "mid-stream failure not in its record"
sqlite3 "$DG_TMP/dg.db" "SELECT record FROM audit_log WHERE record LIKE '%unknown_url%'" | grep -q '"account":"-"' \
  || fail "unauthenticated refusal not recorded under account -"
if "$DG_BIN" --help | grep -q '^  audit '; then
  "$DG_BIN" audit --config "$DG_TMP/cfg.toml" verify > /dev/null || fail "audit chain does not verify"
fi
ok "audit log: $got records for $N exchanges"
echo "gateway_proxy: all ok"
