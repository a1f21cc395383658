#!/usr/bin/env bash
# Auth and limits through the gateway as real processes: keys made with the
# CLI on the same store the server uses while it runs; 401 / 403 / 429 with
# Retry-After and x-ratelimit-* headers as curl and the openai client see
# them; records carry the account and key id (refusals before auth: "-").
source "$(dirname "$0")/lib.sh"
"$DG_BIN" --help | grep -q '^  accounts ' || { echo "SKIP: no 'accounts' command in this build"; exit 77; }
start_fake_upstream
write_config "$DG_TMP/cfg.toml" '"auth", "limit", "forward"' '
[limits]
default_tier = "tiny"
[tiers.tiny]
requests_per_minute = 6
tokens_per_minute = 100000
burst = 20
[tiers.big]
requests_per_minute = 100000
tokens_per_minute = 100000000
burst = 60'
start_gateway "$DG_TMP/cfg.toml"
B="http://$GW"
dg() { "$DG_BIN" "$1" --config "$DG_TMP/cfg.toml" "${@:2}"; }
# Accounts and keys created while the gateway runs.
dg accounts create acme --tier tiny > /dev/null
dg accounts create shady --tier big > /dev/null
KEY=$(dg keys create --account acme 2>/dev/null | sed -n 's/^secret: //p')
KEY_ID=$(dg keys list --account acme | awk 'NR==2{print $1}')
SHADY=$(dg keys create --account shady 2>/dev/null | sed -n 's/^secret: //p')
dg accounts disable shady > /dev/null
[ -n "$KEY" ] && [ -n "$SHADY" ] || fail "could not create keys"
BODY='{"model":"fake-1","messages":[{"role":"user","content":"hi chunks:2"}]}'

code=$(curl -s -o "$DG_TMP/r.json" -w '%{http_code}' "$B/v1/chat/completions" -d "$BODY")
[ "$code" = 401 ] && grep -q '"code":"invalid_api_key"' "$DG_TMP/r.json" || fail "no key: $code $(cat "$DG_TMP/r.json")"
ok "401 without a key"
code=$(curl -s -o "$DG_TMP/r.json" -w '%{http_code}' "$B/v1/chat/completions" -H 'Authorization: Bearer dg-not-a-real-key-at-all' -d "$BODY")
[ "$code" = 401 ] || fail "bad key: $code $(cat "$DG_TMP/r.json")"
ok "401 with an unknown key"
code=""
for i in $(seq 1 40); do  # the store notices the CLI's disable within ~1 s
  code=$(curl -s -o "$DG_TMP/r.json" -w '%{http_code}' "$B/v1/chat/completions" -H "Authorization: Bearer $SHADY" -d "$BODY")
  [ "$code" = 403 ] && break; sleep 0.05
done
[ "$code" = 403 ] && grep -q '"code":"account_disabled"' "$DG_TMP/r.json" || fail "disabled: $code $(cat "$DG_TMP/r.json")"
ok "403 for a disabled account"

curl -s -D "$DG_TMP/h.txt" -o "$DG_TMP/r.json" "$B/v1/chat/completions" -H "Authorization: Bearer $KEY" -d "$BODY"
grep -q '"content":"w0 w1 "' "$DG_TMP/r.json" || fail "authorized request: $(cat "$DG_TMP/r.json")"
grep -qi '^x-ratelimit-remaining-requests:' "$DG_TMP/h.txt" || fail "no x-ratelimit headers: $(cat "$DG_TMP/h.txt")"
ok "200 with x-ratelimit headers"

# A key in use (so in the gateway's per-thread cache) stops within the
# store's interval once the CLI disables its account or revokes it.
dg accounts create later --tier big > /dev/null
LATER=$(dg keys create --account later 2>/dev/null | sed -n 's/^secret: //p')
LATER_ID=$(dg keys list --account later | awk 'NR==2{print $1}')
later() { curl -s -o "$DG_TMP/r.json" -w '%{http_code}' "$B/v1/chat/completions" -H "Authorization: Bearer $LATER" -d "$BODY"; }
until_code() {  # until_code WANT: retries for ~2 s
  local c=""
  for i in $(seq 1 40); do c=$(later); [ "$c" = "$1" ] && return 0; sleep 0.05; done
  echo "$c"; return 1
}
for i in 1 2 3; do [ "$(later)" = 200 ] || fail "key in use: $(cat "$DG_TMP/r.json")"; done
dg accounts disable later > /dev/null
until_code 403 > /dev/null || fail "cached key of a disabled account still accepted"
dg accounts enable later > /dev/null
until_code 200 > /dev/null || fail "re-enabled account still refused"
dg keys revoke "$LATER_ID" > /dev/null
until_code 401 > /dev/null || fail "cached revoked key still accepted"
ok "a key in use stops once disabled (403) or revoked (401) while the gateway runs"

# Exhaust the tiny tier: a 429 with Retry-After and the x-ratelimit-* headers.
got429=0
for i in $(seq 1 30); do
  code=$(curl -s -D "$DG_TMP/h.txt" -o "$DG_TMP/r.json" -w '%{http_code}' "$B/v1/chat/completions" -H "Authorization: Bearer $KEY" -d "$BODY")
  if [ "$code" = 429 ]; then got429=1; break; fi
done
[ "$got429" = 1 ] || fail "never limited"
grep -qi '^retry-after: *[0-9]' "$DG_TMP/h.txt" || fail "429 without Retry-After: $(cat "$DG_TMP/h.txt")"
for h in limit-requests remaining-requests reset-requests limit-tokens remaining-tokens reset-tokens; do
  grep -qi "^x-ratelimit-$h:" "$DG_TMP/h.txt" || fail "429 without x-ratelimit-$h"
done
grep -q '"type":"requests"\|"code":"rate_limit_exceeded"' "$DG_TMP/r.json" || fail "429 body: $(cat "$DG_TMP/r.json")"
ok "429 with Retry-After and x-ratelimit-* (curl)"

# The openai client sees a RateLimitError carrying those headers.
node --input-type=module -e '
import OpenAI from "openai";
const c = new OpenAI({ baseURL: process.argv[1] + "/v1", apiKey: process.argv[2], maxRetries: 0 });
try {
  await c.chat.completions.create({ model: "fake-1", messages: [{ role: "user", content: "x" }] });
  console.error("no 429"); process.exit(1);
} catch (e) {
  if (!(e instanceof OpenAI.RateLimitError) || e.status !== 429) { console.error("want RateLimitError:", e); process.exit(1); }
  const h = e.headers;
  const get = (k) => (typeof h.get === "function" ? h.get(k) : h[k]);
  for (const k of ["retry-after", "x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests"]) {
    if (get(k) == null) { console.error("missing header", k); process.exit(1); }
  }
  if (e.code !== "rate_limit_exceeded") { console.error("code", e.code); process.exit(1); }
}' "$B" "$KEY" || fail "openai client did not see a RateLimitError with headers"
ok "429 as RateLimitError with headers (openai client)"

stop_gateway
sqlite3 "$DG_TMP/dg.db" "SELECT record FROM audit_log WHERE account='acme' AND record LIKE '%\"status\":200%' LIMIT 1" \
  | grep -q "\"key_id\":\"$KEY_ID\"" || fail "authorized record lacks account/key_id"
[ "$(sqlite3 "$DG_TMP/dg.db" "SELECT COUNT(*) FROM audit_log WHERE account='-' AND record LIKE '%invalid_api_key%'")" -ge 2 ] \
  || fail "401s not recorded under account -"
[ "$(sqlite3 "$DG_TMP/dg.db" "SELECT COUNT(*) FROM audit_log WHERE record LIKE '%\"status\":429%'")" -ge 2 ] \
  || fail "429s not recorded"
"$DG_BIN" audit --config "$DG_TMP/cfg.toml" verify > /dev/null \
  || fail "audit chain does not verify"
ok "records: account, key_id, refusals; chain verifies"
echo "gateway_auth: all ok"
