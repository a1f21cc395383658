# Shared helpers for the gateway integration tests (sourced).
# Starts processes in the background, records their pids, and kills exactly
# those on exit. Every wait is a bounded poll.
source "$DG_SOURCE_DIR/tests/lib/procs.sh"
HERE="$DG_SOURCE_DIR/tests/gateway"

# start_fake_upstream -> sets UP (host:port)
start_fake_upstream() {
  node "$HERE/fake_upstream.mjs" > "$DG_TMP/upstream.out" 2> "$DG_TMP/upstream.err" &
  PIDS+=($!)
  UP=$(wait_listening "$DG_TMP/upstream.out")
}

# write_config FILE STAGES_ORDER [extra toml appended]
write_config() {
  local file=$1 order=$2 extra=${3:-}
  cat > "$file" <<TOML
[server]
listen = "127.0.0.1:0"
max_body_bytes = 65536
io_threads = 2

[[upstream]]
name = "fake"
url = "http://$UP"
models = ["*"]
connect_timeout_ms = 1000
first_byte_timeout_ms = 1500
idle_timeout_ms = 1500

[[upstream]]
name = "dead"
url = "http://127.0.0.1:$DEAD_PORT"
models = ["dead-model"]
connect_timeout_ms = 500

[storage]
sqlite_path = "$DG_TMP/dg.db"

[audit]
jsonl_path = "$DG_TMP/audit.jsonl"

[stages]
order = [$order]
$extra
TOML
}

# A port nothing listens on (bound then released by the kernel's choice).
DEAD_PORT=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')

# start_gateway CONFIG -> sets GW (host:port), GW_PID
start_gateway() {
  "$DG_BIN" serve --config "$1" > "$DG_TMP/gateway.out" 2> "$DG_TMP/gateway.err" &
  GW_PID=$!
  PIDS+=($GW_PID)
  GW=$(wait_listening "$DG_TMP/gateway.out")
}

# stop_gateway: SIGTERM and wait (graceful stop flushes the audit log).
stop_gateway() {
  kill -TERM "$GW_PID"
  local i
  for i in $(seq 1 200); do kill -0 "$GW_PID" 2>/dev/null || break; sleep 0.05; done
  kill -0 "$GW_PID" 2>/dev/null && fail "gateway did not stop on SIGTERM"
  wait "$GW_PID" || fail "gateway exited with $? after SIGTERM"
}

# audit_count: records in the SQLite audit log.
audit_count() { sqlite3 "$DG_TMP/dg.db" 'SELECT COUNT(*) FROM audit_log'; }

# upstream_stat NAME: a counter from the fake upstream.
upstream_stat() { curl -s "http://$UP/_stats" | node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>console.log(JSON.parse(s)['$1']))"; }

# status_of ARGS...: curl, print only the HTTP status.
status_of() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
