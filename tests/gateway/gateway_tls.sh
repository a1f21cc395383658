#!/usr/bin/env bash
# TLS to the upstream: a verified connection with a private CA file (SNI and
# host name checked), a refused one against the system store (502), and
# tls_verify = false; streaming over TLS.
source "$(dirname "$0")/lib.sh"
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost \
  -addext "subjectAltName=DNS:localhost" -keyout "$DG_TMP/key.pem" -out "$DG_TMP/cert.pem" 2> /dev/null
TLS_CERT="$DG_TMP/cert.pem" TLS_KEY="$DG_TMP/key.pem" node "$HERE/fake_upstream.mjs" > "$DG_TMP/upstream.out" 2> "$DG_TMP/upstream.err" &
PIDS+=($!)
UP=$(wait_listening "$DG_TMP/upstream.out")
PORT=${UP##*:}
cat > "$DG_TMP/cfg.toml" <<TOML
[server]
listen = "127.0.0.1:0"
[[upstream]]
name = "tls-ca"
url = "https://localhost:$PORT"
models = ["good"]
ca_file = "$DG_TMP/cert.pem"
[[upstream]]
name = "tls-system-store"
url = "https://localhost:$PORT"
models = ["untrusted"]
[[upstream]]
name = "tls-wrong-name"
url = "https://127.0.0.1:$PORT"
models = ["wrongname"]
ca_file = "$DG_TMP/cert.pem"
[[upstream]]
name = "tls-noverify"
url = "https://localhost:$PORT"
models = ["noverify"]
tls_verify = false
[storage]
sqlite_path = "$DG_TMP/dg.db"
[stages]
order = ["forward"]
TOML
start_gateway "$DG_TMP/cfg.toml"
B="http://$GW"
out=$(curl -s "$B/v1/chat/completions" -d '{"model":"good","messages":[{"role":"user","content":"chunks:2"}]}')
echo "$out" | grep -q '"content":"w0 w1 "' || fail "verified TLS: $out"
ok "TLS with ca_file"
out=$(curl -s -N "$B/v1/chat/completions" -d '{"model":"good","stream":true,"messages":[{"role":"user","content":"chunks:3 delay:10"}]}')
[ "$(echo "$out" | grep -c '^data: {')" -eq 5 ] && echo "$out" | grep -q '^data: \[DONE\]' || fail "TLS stream: $out"
ok "TLS stream"
code=$(curl -s -o "$DG_TMP/r.json" -w '%{http_code}' "$B/v1/chat/completions" -d '{"model":"untrusted","messages":[]}')
[ "$code" = 502 ] && grep -q 'upstream_unreachable' "$DG_TMP/r.json" || fail "untrusted cert: $code $(cat "$DG_TMP/r.json")"
ok "self-signed certificate refused without its CA (502)"
code=$(curl -s -o "$DG_TMP/r.json" -w '%{http_code}' "$B/v1/chat/completions" -d '{"model":"wrongname","messages":[]}')
[ "$code" = 502 ] || fail "certificate for another name accepted: $code $(cat "$DG_TMP/r.json")"
ok "certificate for another host name refused (502)"
out=$(curl -s "$B/v1/chat/completions" -d '{"model":"noverify","messages":[{"role":"user","content":"chunks:1"}]}')
echo "$out" | grep -q '"content":"w0 "' || fail "tls_verify=false: $out"
ok "tls_verify = false"
echo "gateway_tls: all ok"
