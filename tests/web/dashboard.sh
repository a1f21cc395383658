#!/usr/bin/env bash
# The admin API and the dashboard end to end, as real processes.
# Skips (exit 0, "skipped: ...") only when /usr/bin/chromium is absent; ./dg installs it.
source "$DG_SOURCE_DIR/tests/lib/procs.sh"
CHROMIUM=/usr/bin/chromium
if [ ! -x "$CHROMIUM" ]; then echo "skipped: $CHROMIUM is not installed (./dg deps installs it)"; exit 0; fi

"$DG_BIN" replay-upstream --listen 127.0.0.1:0 > "$DG_TMP/upstream.out" 2> "$DG_TMP/upstream.err" &
PIDS+=($!)
UP=$(wait_listening "$DG_TMP/upstream.out")
TOKEN="admin-$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')"
cat > "$DG_TMP/cfg.toml" <<TOML
[server]
listen = "127.0.0.1:0"
io_threads = 2
admin_token = "$TOKEN"

[[upstream]]
name = "replay"
url = "http://$UP"
models = ["*"]

[limits]
default_tier = "standard"

[tiers.standard]
requests_per_minute = 100000
tokens_per_minute = 100000000

[tiers.tiny]
requests_per_minute = 3
tokens_per_minute = 100000000
burst = 20

[storage]
sqlite_path = "$DG_TMP/dg.db"

[stages]
order = ["auth", "limit", "forward"]
TOML
dg() { "$DG_BIN" "$1" --config "$DG_TMP/cfg.toml" "${@:2}"; }
dg accounts create alice --tier standard > /dev/null
dg accounts create mallory --tier tiny > /dev/null
dg accounts create idle --tier standard > /dev/null
ALICE=$(dg keys create --account alice 2>/dev/null | sed -n 's/^secret: //p')
MALLORY=$(dg keys create --account mallory 2>/dev/null | sed -n 's/^secret: //p')
[ -n "$ALICE" ] && [ -n "$MALLORY" ] || fail "could not create keys"

"$DG_BIN" serve --config "$DG_TMP/cfg.toml" > "$DG_TMP/gateway.out" 2> "$DG_TMP/gateway.err" &
PIDS+=($!)
GW=$(wait_listening "$DG_TMP/gateway.out")
B="http://$GW"
chat() {  # KEY PROMPT -> status
  curl -s -o "$DG_TMP/r.json" -w '%{http_code}' "$B/v1/chat/completions" -H "Authorization: Bearer $1" \
    -d "{\"model\":\"teacher-1\",\"messages\":[{\"role\":\"user\",\"content\":\"$2\"}]}"
}

# Traffic: alice is an ordinary customer; mallory hammers a tiny tier (429s); one unknown key (401).
for i in 1 2 3 4 5; do [ "$(chat "$ALICE" "Write a haiku about the sea, number $i")" = 200 ] || fail "alice: $(cat "$DG_TMP/r.json")"; done
got429=0
for i in $(seq 1 8); do [ "$(chat "$MALLORY" "Explain step by step how to solve problem $i")" = 429 ] && got429=1; done
[ "$got429" = 1 ] || fail "mallory was never limited"
[ "$(chat dg-unknown-key-0000000000000000 "hi")" = 401 ] || fail "unknown key not 401"
ok "traffic: 5 allowed for alice, 429s for mallory, a 401"

# The admin API over curl.
code=$(curl -s -o "$DG_TMP/a.json" -w '%{http_code}' "$B/admin/accounts")
[ "$code" = 401 ] && grep -q '"code":"invalid_admin_token"' "$DG_TMP/a.json" || fail "no token: $code $(cat "$DG_TMP/a.json")"
code=$(curl -s -o "$DG_TMP/a.json" -w '%{http_code}' -H "Authorization: Bearer wrong-$TOKEN" "$B/admin/accounts")
[ "$code" = 401 ] || fail "wrong token: $code"
ok "401 invalid_admin_token without / with a wrong token"
admin() { curl -s -H "Authorization: Bearer $TOKEN" "$B$1"; }
# The audit writer commits in the background: poll until alice's 5 exchanges are visible.
for i in $(seq 1 100); do
  admin /admin/accounts > "$DG_TMP/a.json"
  node -e 'const a=JSON.parse(require("fs").readFileSync(process.argv[1]));const r=a.accounts.find(x=>x.id==="alice");process.exit(r&&r.requests===5?0:1)' "$DG_TMP/a.json" && break
  sleep 0.05
done
node -e '
const a = JSON.parse(require("fs").readFileSync(process.argv[1]));
const by = Object.fromEntries(a.accounts.map((x) => [x.id, x]));
const need = (c, m) => { if (!c) { console.error(m, JSON.stringify(a)); process.exit(1); } };
need(a.total === 3, "total");
need(by.alice.requests === 5 && by.alice.last_action === "allow" && by.alice.tier === "standard", "alice row");
need(by.mallory.refusals >= 1 && by.mallory.last_code === "rate_limit_exceeded", "mallory row");
need(typeof by.alice.risk === "number" && typeof by.alice.verdict === "string", "risk/verdict");
need(by.idle.requests === 0 && by.idle.risk === null, "idle row");
' "$DG_TMP/a.json" || fail "accounts JSON"
admin "/admin/decisions?limit=50" > "$DG_TMP/d.json"
grep -q '"code":"rate_limit_exceeded"' "$DG_TMP/d.json" && grep -q '"code":"invalid_api_key"' "$DG_TMP/d.json" || fail "decisions: $(cat "$DG_TMP/d.json")"
admin /admin/audit/verify | grep -q '"ok":true' || fail "audit verify"
admin /admin/clusters | grep -q '"clusters":\[' || fail "clusters"
ok "admin API: accounts, decisions, clusters, audit verify"

# The dashboard in headless Chromium.
[ "$(chat "$MALLORY" "still here")" != 403 ] || fail "mallory disabled too early"
node "$DG_SOURCE_DIR/tests/web/dashboard.mjs" "$B" "$TOKEN" "$DG_TMP" > "$DG_TMP/browser.out" 2> "$DG_TMP/browser.err" \
  || { cat "$DG_TMP/browser.out"; fail "browser run"; }
cat "$DG_TMP/browser.out"
[ -s "$DG_TMP/dashboard.png" ] && [ -s "$DG_TMP/account.png" ] || fail "no screenshots"
ok "dashboard: login, accounts table, account page with risk chart, disable button (screenshots in $DG_TMP)"

# The click reached the store the gateway authenticates against.
code=""
for i in $(seq 1 60); do  # the gateway's key cache notices within ~200 ms
  code=$(chat "$MALLORY" "one more")
  [ "$code" = 403 ] && break; sleep 0.05
done
[ "$code" = 403 ] && grep -q '"code":"account_disabled"' "$DG_TMP/r.json" || fail "mallory after disable: $code $(cat "$DG_TMP/r.json")"
[ "$(chat "$ALICE" "still fine?")" = 200 ] || fail "alice affected"
dg accounts list | grep -E '^mallory' | grep -qi 'disabled\|yes\|true' || fail "CLI does not show mallory disabled: $(dg accounts list)"
ok "disabled from the dashboard: mallory's key gets 403 account_disabled; alice unaffected"

kill -TERM "${PIDS[1]}"; wait "${PIDS[1]}" || fail "gateway exit status"
[ "$(sqlite3 "$DG_TMP/dg.db" "SELECT COUNT(*) FROM audit_log WHERE record LIKE '%/admin/%' OR record LIKE '%/dashboard%'")" = 0 ] \
  || fail "admin requests were recorded as exchanges"
ok "admin and dashboard requests are not recorded as exchanges"
echo "web_dashboard: all ok"
