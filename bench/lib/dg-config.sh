#!/usr/bin/env bash
# Prints the distillguard config the benchmark runs: env DG_PORT, DG_UP (upstream
# port), DG_DIR (working dir for SQLite files), DG_MODE on|off.
#   on:  auth, limit (a tier far above the offered load, so nothing is refused but
#        every request is checked and charged), forward, and the audit log.
#   off: auth and limit off; forward only.
set -euo pipefail
cat <<TOML
[server]
listen = "127.0.0.1:${DG_PORT}"
io_threads = 1

[[upstream]]
name = "mock"
url = "http://127.0.0.1:${DG_UP}"
models = ["*"]

[tiers.bench]
requests_per_minute = 1000000000
tokens_per_minute = 1000000000000
burst = 60

[limits]
default_tier = "bench"

[storage]
sqlite_path = "${DG_DIR}/distillguard.db"

[audit]
sqlite_path = "${DG_DIR}/audit.db"

[stages]
order = ["auth", "limit", "forward"]
TOML
if [ "$DG_MODE" = off ]; then
  cat <<TOML

[stages.auth]
mode = "off"

[stages.limit]
mode = "off"
TOML
fi
