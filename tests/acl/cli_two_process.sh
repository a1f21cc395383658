#!/usr/bin/env bash
# The accounts/keys/audit CLI against one SQLite store from several processes
# at once (as the CLI and a running server do): no lost writes, no "database is
# locked" failures, consistent listings, and a tampered audit entry is named.
set -euo pipefail
: "${DG_BIN:?}" "${DG_TMP:?}" "${DG_SOURCE_DIR:?}"
rm -rf "$DG_TMP" && mkdir -p "$DG_TMP"
DB="$DG_TMP/store.db"
CFG="$DG_TMP/cfg.toml"
cat > "$CFG" <<TOML
[storage]
sqlite_path = "$DB"
[tiers.new]
requests_per_minute = 5
[tiers.gold]
requests_per_minute = 50
[limits]
default_tier = "new"
TOML
fail() { echo "acl_cli_two_process: FAIL: $*" >&2; exit 1; }
dg() { "$DG_BIN" "$@"; }

# Two writers at the same time, 20 accounts each, each account with a key.
writer() {
  local prefix=$1
  for i in $(seq 1 20); do
    dg accounts create "$prefix$i" --config "$CFG" >/dev/null
    dg keys create --account "$prefix$i" --config "$CFG" >/dev/null 2>&1
  done
}
writer a & pa=$!
writer b & pb=$!
wait $pa || fail "writer a failed"
wait $pb || fail "writer b failed"

n_accounts=$(dg accounts list --db "$DB" | tail -n +2 | wc -l)
[ "$n_accounts" -eq 40 ] || fail "want 40 accounts, got $n_accounts"
n_keys=$(dg keys list --db "$DB" | tail -n +2 | grep -c active)
[ "$n_keys" -eq 40 ] || fail "want 40 active keys, got $n_keys"

# Tiers are checked against the config; unknown ones are refused with exit 2.
set +e
dg accounts create zed --tier platinum --config "$CFG" 2>/dev/null; rc=$?
set -e
[ "$rc" -eq 2 ] || fail "unknown tier exited $rc, want 2"
dg accounts set-tier a1 gold --config "$CFG" >/dev/null
dg accounts list --db "$DB" | grep -Eq '^a1 +gold ' || fail "set-tier not visible"

# Duplicate account: exit 1 with a clear message.
set +e
out=$(dg accounts create a1 --db "$DB" 2>&1); rc=$?
set -e
[ "$rc" -eq 1 ] && grep -q "already exists" <<<"$out" || fail "duplicate account: rc=$rc '$out'"

# Key secret: printed once, never stored.
out=$(dg keys create --account b7 --db "$DB" 2>/dev/null)
secret=$(awk '/^secret:/ {print $2}' <<<"$out")
key_id=$(awk '/^key_id:/ {print $2}' <<<"$out")
[[ "$secret" == dg-* ]] || fail "no secret printed: $out"
if command -v sqlite3 >/dev/null; then
  sqlite3 "$DB" .dump | grep -qF -- "${secret#dg-}" && fail "secret found in the database"
fi
dg keys list --account b7 --db "$DB" | grep -q "$key_id" || fail "new key not listed"

# Disable/revoke while another process keeps reading.
( for _ in $(seq 1 30); do dg accounts list --db "$DB" >/dev/null; done ) & reader=$!
dg accounts disable b7 --db "$DB" >/dev/null
dg keys revoke "$key_id" --db "$DB" >/dev/null
wait $reader || fail "concurrent reader failed"
dg accounts list --db "$DB" | grep -Eq '^b7 .* disabled$' || fail "b7 not disabled"
dg keys list --account b7 --db "$DB" | grep "$key_id" | grep -q revoked || fail "key not revoked"
dg accounts enable b7 --db "$DB" >/dev/null
dg accounts list --db "$DB" | grep -Eq '^b7 .* active$' || fail "b7 not enabled"

# Audit log in the same file: two importers at once form one intact chain.
records() {
  for i in $(seq 1 50); do
    printf '{"ts":"2026-02-01T12:00:%02d.000Z","account":"%s","endpoint":"/v1/chat/completions","request":{"model":"m","messages":[{"role":"user","content":"q%d"}]},"status":200}\n' \
      $((i % 60)) "$1" "$i"
  done
}
records a1 > "$DG_TMP/a.jsonl"
records b1 > "$DG_TMP/b.jsonl"
dg audit append "$DG_TMP/a.jsonl" --db "$DB" 2>/dev/null & p1=$!
dg audit append "$DG_TMP/b.jsonl" --db "$DB" 2>/dev/null & p2=$!
wait $p1 || fail "importer 1 failed"
wait $p2 || fail "importer 2 failed"
dg audit verify --db "$DB" | grep -q '^ok: 100 entries' || fail "chain not intact: $(dg audit verify --db "$DB")"
n=$(dg audit export --account a1 --db "$DB" 2>/dev/null | wc -l)
[ "$n" -eq 50 ] || fail "export --account a1 gave $n records"
[ "$(dg audit tail -n 3 --db "$DB" | wc -l)" -eq 3 ] || fail "tail -n 3"

if command -v sqlite3 >/dev/null; then
  sqlite3 "$DB" "UPDATE audit_log SET record = replace(record, '\"q7\"', '\"q70\"') WHERE seq = (SELECT seq FROM audit_log WHERE record LIKE '%\"q7\"%' ORDER BY seq LIMIT 1)"
  bad=$(sqlite3 "$DB" "SELECT seq FROM audit_log WHERE record LIKE '%\"q70\"%' ORDER BY seq LIMIT 1")
  set +e
  out=$(dg audit verify --db "$DB"); rc=$?
  set -e
  [ "$rc" -eq 1 ] || fail "tampered chain verified (rc=$rc)"
  grep -q "^BROKEN at seq $bad:" <<<"$out" || fail "verify did not name seq $bad: $out"
fi

# A bad config stops with file:line and the key.
printf '[tiers.new]\nrequests_per_minute = 5\nrpmm = 3\n' > "$DG_TMP/bad.toml"
set +e
out=$(dg accounts list --config "$DG_TMP/bad.toml" 2>&1); rc=$?
set -e
[ "$rc" -eq 2 ] && grep -q "bad.toml:3: unknown key 'tiers.new.rpmm'" <<<"$out" || fail "bad config: rc=$rc '$out'"

echo "acl_cli_two_process: ok"
