#!/usr/bin/env bash
# distillbench end to end through the real binary: simulate is deterministic
# and writes gzip when asked, bad scenarios and bad reports are refused with
# the key or account named (exit 2), and score grades a report. When the
# binary has `analyze`, the full loop simulate -> analyze -> score runs too.
set -euo pipefail
T="$DG_TMP"
rm -rf "$T" && mkdir -p "$T"
SC="$DG_SOURCE_DIR/bench/scenarios/smoke.toml"
fail() { echo "distillbench_cli: FAIL: $*" >&2; exit 1; }

"$DG_BIN" simulate --scenario "$SC" --out "$T/a.jsonl" --labels "$T/a.labels.jsonl" 2>/dev/null
"$DG_BIN" simulate --scenario "$SC" --out "$T/b.jsonl" --labels "$T/b.labels.jsonl" 2>/dev/null
cmp -s "$T/a.jsonl" "$T/b.jsonl" || fail "same seed gave different traces"
cmp -s "$T/a.labels.jsonl" "$T/b.labels.jsonl" || fail "same seed gave different labels"
"$DG_BIN" simulate --scenario "$SC" --out "$T/c.jsonl.gz" --labels "$T/c.labels.jsonl" --seed 8 2>/dev/null
gzip -t "$T/c.jsonl.gz" || fail "gzip trace is not valid gzip"
zcat "$T/c.jsonl.gz" | cmp -s - "$T/a.jsonl" && fail "another seed gave the same trace"
"$DG_BIN" simulate --scenario "$SC" --out "$T/d.jsonl.gz" --labels "$T/d.labels.jsonl" 2>/dev/null
zcat "$T/d.jsonl.gz" | cmp -s - "$T/a.jsonl" || fail "gzip trace differs from the plain one"
[ "$(wc -l < "$T/a.jsonl")" -gt 1000 ] || fail "smoke trace too small"

# Bad scenario: unknown key, named with its line.
sed 's/^seed = 7$/seed = 7\nseeed = 8/' "$SC" > "$T/bad.toml"
set +e
"$DG_BIN" simulate --scenario "$T/bad.toml" --out "$T/x.jsonl" --labels "$T/x.labels.jsonl" 2> "$T/err"
rc=$?
set -e
[ "$rc" -eq 2 ] || fail "bad scenario exited $rc, want 2"
grep -q "bad.toml:8: seeed: unknown key" "$T/err" || fail "error does not name the key and line: $(cat "$T/err")"

# A report from the labels: every account ok except every attack account of the
# first campaign in the file, flagged at its first exchange.
report() {  # report LABELS TRACE [extra-account] [skip-account]
  awk -v extra="${3:-}" -v skip="${4:-}" -v trace="$2" '
    BEGIN {
      while ((getline line < trace) > 0) {
        match(line, /"account":"[^"]*"/); a = substr(line, RSTART + 11, RLENGTH - 12)
        if (!(a in first)) { match(line, /"ts":"[^"]*"/); first[a] = substr(line, RSTART + 6, RLENGTH - 7) }
        n[a]++
      }
      printf "{\"input\":{},\"accounts\":["; sep = ""
    }
    {
      match($0, /"account":"[^"]*"/); a = substr($0, RSTART + 11, RLENGTH - 12)
      match($0, /"campaign":("[^"]*"|null)/); c = substr($0, RSTART + 11, RLENGTH - 11)
      if (a == skip) next
      if (target == "" && c != "null") target = c
      if (c == target) { v = "attack"; ff = "{\"ts\":\"" first[a] "\",\"exchange\":1}" } else { v = "ok"; ff = "null" }
      printf "%s{\"account\":\"%s\",\"verdict\":\"%s\",\"risk\":0.5,\"cluster\":null,\"exchanges\":%d,\"first_flagged\":%s,\"reasons\":[]}", sep, a, v, n[a], ff
      sep = ","
    }
    END {
      if (extra != "") printf ",{\"account\":\"%s\",\"verdict\":\"ok\",\"risk\":0,\"cluster\":null,\"exchanges\":1,\"first_flagged\":null,\"reasons\":[]}", extra
      print "],\"clusters\":[]}"
    }' "$1"
}
report "$T/a.labels.jsonl" "$T/a.jsonl" > "$T/report.json"
"$DG_BIN" score --report "$T/report.json" --labels "$T/a.labels.jsonl" --trace "$T/a.jsonl" --json "$T/score.json" > "$T/table"
grep -q "^overall: precision 100.0%" "$T/table" || fail "unexpected table: $(cat "$T/table")"
grep -q '"leaked_exchanges"' "$T/score.json" || fail "score JSON lacks leaked_exchanges"
grep -q '"counts_from":"trace"' "$T/score.json" || fail "score JSON did not use the trace"

report "$T/a.labels.jsonl" "$T/a.jsonl" acct_notinlabels > "$T/extra.json"
set +e
"$DG_BIN" score --report "$T/extra.json" --labels "$T/a.labels.jsonl" 2> "$T/err"; rc=$?
set -e
[ "$rc" -eq 2 ] || fail "report with an unknown account exited $rc, want 2"
grep -q "acct_notinlabels" "$T/err" || fail "error does not name the unknown account"
victim=$(head -1 "$T/a.labels.jsonl" | sed 's/.*"account":"\([^"]*\)".*/\1/')
report "$T/a.labels.jsonl" "$T/a.jsonl" "" "$victim" > "$T/omit.json"
set +e
"$DG_BIN" score --report "$T/omit.json" --labels "$T/a.labels.jsonl" 2> "$T/err"; rc=$?
set -e
[ "$rc" -eq 2 ] || fail "report omitting an account exited $rc, want 2"
grep -q "omits account '$victim'" "$T/err" || fail "error does not name the omitted account: $(cat "$T/err")"

# The full loop, when the detection engine's analyze command is built in.
if "$DG_BIN" --help | grep -q '^  analyze '; then
  timeout 120 "$DG_BIN" analyze --input "$T/a.jsonl" --format json --output "$T/analyze.json"
  "$DG_BIN" score --report "$T/analyze.json" --labels "$T/a.labels.jsonl" --trace "$T/a.jsonl" > "$T/table2" \
    || fail "score refused the analyze report"
  cat "$T/table2"
fi
echo "distillbench_cli: ok"
