# The harness every integration script shares (sourced first): strict mode, a
# fresh $DG_TMP, background processes recorded in PIDS and killed on exit,
# fail/ok, and a bounded wait for a server's "listening on H:P" line.
set -euo pipefail
: "${DG_BIN:?}" "${DG_SOURCE_DIR:?}" "${DG_TMP:?}"
rm -rf "$DG_TMP" && mkdir -p "$DG_TMP"
export NODE_PATH="$DG_SOURCE_DIR/node_modules"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; for f in "$DG_TMP"/*.err; do [ -f "$f" ] && { echo "--- $f" >&2; tail -20 "$f" >&2; }; done; exit 1; }
ok() { echo "ok: $*"; }

# wait_listening FILE -> prints host:port once FILE has "listening on H:P" (10 s max).
wait_listening() {
  local f=$1 i
  for i in $(seq 1 200); do
    if grep -q '^listening on ' "$f" 2>/dev/null; then sed -n 's/^listening on //p' "$f" | head -1; return 0; fi
    sleep 0.05
  done
  fail "no 'listening on' in $f"
}
