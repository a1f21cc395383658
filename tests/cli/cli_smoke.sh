#!/usr/bin/env bash
# The binary runs, lists its commands, and refuses an unknown one with exit 2.
set -euo pipefail
"$DG_BIN" --help | grep -q '^commands:'
"$DG_BIN" version | grep -q '^distillguard '
set +e
"$DG_BIN" no-such-command 2>/dev/null
rc=$?
set -e
[ "$rc" -eq 2 ] || { echo "unknown command exited $rc, want 2"; exit 1; }
echo "cli_smoke: ok"
