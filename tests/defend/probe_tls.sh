#!/usr/bin/env bash
# `distillguard probe` over https against a local TLS server (self-signed
# certificate for "localhost") that answers every chat completion with a text
# carrying acct-7's canary:
#   - verified with --ca-file: the canary is found and attributed;
#   - the system store (no --ca-file): refused, certificate not trusted;
#   - a certificate for another host name (https://127.0.0.1 with --ca-file): refused;
#   - --insecure: accepted without verification;
#   - plain http:// still works; --insecure with http:// is a usage error.
source "$DG_SOURCE_DIR/tests/lib/procs.sh"
cd "$DG_TMP"
command -v openssl > /dev/null || { echo "SKIP: no openssl"; exit 77; }

openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost \
  -addext "subjectAltName=DNS:localhost" -keyout key.pem -out cert.pem 2> /dev/null
printf 'probe-test-master\n' > master
for i in $(seq 1 20); do echo "acct-$i"; done > accounts
# The suspect's answer: a definition carrying acct-7's canary (as the trace rung plants it).
echo '{"prompt":"What is a monad?","response":"A monad is a design pattern for chaining computations."}' > in.jsonl
"$DG_BIN" watermark --master-key-file master --account acct-7 --strength 1.0 --trace in.jsonl 2> /dev/null \
  | python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["response"], end="")' > answer.txt
grep -q 'Some glossaries also file this under' answer.txt || fail "no canary planted: $(cat answer.txt)"

cat > suspect.py <<'PY'
import http.server, json, ssl, sys
answer = open(sys.argv[1]).read()
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
        if self.path != "/v1/chat/completions" or self.headers.get("authorization") != "Bearer suspect-key":
            self.send_response(401); self.send_header("content-length", "0"); self.end_headers(); return
        out = json.dumps({"id": "c", "object": "chat.completion", "model": body.get("model"),
                          "choices": [{"index": 0, "finish_reason": "stop",
                                       "message": {"role": "assistant", "content": answer}}]}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)
    def log_message(self, *a):
        pass
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
if len(sys.argv) > 2:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[2], sys.argv[3])
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print(f"listening on 127.0.0.1:{srv.server_address[1]}", flush=True)
srv.serve_forever()
PY
python3 suspect.py answer.txt cert.pem key.pem > tls.out 2> tls.err &
PIDS+=($!)
TLS_PORT=$(wait_listening tls.out); TLS_PORT=${TLS_PORT##*:}
python3 suspect.py answer.txt > plain.out 2> plain.err &
PIDS+=($!)
PLAIN=$(wait_listening plain.out)

probe() { timeout 60 "$DG_BIN" probe --key suspect-key --master-key-file master --accounts accounts --per-kind 2 "$@"; }

probe --target "https://localhost:$TLS_PORT" --ca-file cert.pem > verified.out 2> verified.err || fail "verified https: $(cat verified.err)"
grep -q 'canary HIT: .*(account acct-7, kind definition) in 6 answer' verified.out || fail "no hit over https: $(cat verified.out)"
echo "ok: https with --ca-file: canary found ($(grep -c 'canary HIT' verified.out) hit line(s))"

if probe --target "https://localhost:$TLS_PORT" > store.out 2> store.err; then fail "self-signed certificate accepted against the system store"; fi
grep -qi 'certificate verify failed' store.err || fail "system store refusal: $(cat store.err)"
echo "ok: self-signed certificate refused without its CA ($(head -c 120 store.err))"

if probe --target "https://127.0.0.1:$TLS_PORT" --ca-file cert.pem > name.out 2> name.err; then fail "certificate for another host name accepted"; fi
grep -qi 'certificate verify failed' name.err || fail "host name refusal: $(cat name.err)"
echo "ok: certificate for another host name refused"

probe --target "https://localhost:$TLS_PORT/v1" --insecure --format json > insecure.out 2> insecure.err || fail "--insecure: $(cat insecure.err)"
python3 - insecure.out <<'PY' || fail "insecure json: $(cat insecure.out)"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["answers"] == 6, r
assert any(h["account"] == "acct-7" and h["kind"] == "definition" and h["answers"] == 6 for h in r["hits"]), r["hits"]
assert r["chance_bound"] < 1e-3, r
PY
echo "ok: --insecure accepts the self-signed certificate"

probe --target "http://$PLAIN" > plain-probe.out 2> plain-probe.err || fail "plain http: $(cat plain-probe.err)"
grep -q 'canary HIT: .*(account acct-7' plain-probe.out || fail "no hit over http: $(cat plain-probe.out)"
set +e
probe --target "http://$PLAIN" --insecure > /dev/null 2> usage.err
rc=$?
set -e
[ "$rc" = 2 ] || fail "--insecure with http:// exited $rc"
echo "ok: plain http:// still works; --insecure with http:// is a usage error"
