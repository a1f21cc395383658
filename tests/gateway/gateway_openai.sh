#!/usr/bin/env bash
# The official openai npm client against the gateway (auth off); then exactly
# one audit record per exchange the client made.
source "$(dirname "$0")/lib.sh"
start_fake_upstream
write_config "$DG_TMP/cfg.toml" '"forward"'
start_gateway "$DG_TMP/cfg.toml"
out=$(node "$HERE/openai_client.mjs" "http://$GW" "http://$UP") || { echo "$out"; fail "openai client test"; }
echo "$out"
n=$(echo "$out" | sed -n 's/^exchanges=//p')
stop_gateway
got=$(audit_count)
[ "$got" -eq "$n" ] || fail "audit log has $got records for $n exchanges"
ok "audit log: $got records for $n exchanges"
echo "gateway_openai: all ok"
