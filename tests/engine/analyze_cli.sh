#!/usr/bin/env bash
# `distillguard analyze` as a real process: the JSON report against the spec's
# shape, malformed lines counted and reported (never fatal), .jsonl.gz and
# stdin inputs, text and self-contained HTML, exit 2 on bad arguments or an
# unreadable input; and a small distillbench scenario end to end.
set -euo pipefail
T="$DG_TMP"; rm -rf "$T"; mkdir -p "$T"
fail() { echo "analyze_cli: $*" >&2; exit 1; }

rec() {  # ts account prompt
  printf '{"ts":"%s","account":"%s","endpoint":"/v1/chat/completions","ip":"198.51.100.7","request":{"model":"m","messages":[{"role":"user","content":"%s"}],"temperature":0},"response":{"usage":{"prompt_tokens":10,"completion_tokens":50}},"status":200}\n' "$1" "$2" "$3"
}
{
  rec 2026-02-01T12:00:00.000Z alice "What is the capital of France?"
  echo 'this is not json'
  echo ''
  rec 2026-02-01T12:00:05.000Z bob "Write a python function to reverse a string."
  echo '{"ts":"2026-02-01T12:00:06.000Z","endpoint":"/v1/chat/completions","request":{}}'
  rec 2026-02-01T12:00:09.000Z alice "And of Spain?"
} > "$T/small.jsonl"

"$DG_BIN" analyze --input "$T/small.jsonl" --format json --output "$T/small.json" 2> "$T/err.txt" || fail "exit $? on malformed lines"
grep -q 'small.jsonl:2: rejected' "$T/err.txt" || fail "line 2 not reported: $(cat "$T/err.txt")"
grep -q "small.jsonl:5: rejected.*account" "$T/err.txt" || fail "line 5 not reported"

node - "$T/small.json" <<'JS'
const fs = require('fs');
const r = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const must = (c, m) => { if (!c) { console.error('spec: ' + m); process.exit(1); } };
must(r.input && r.input.records === 3, 'input.records = 3, got ' + JSON.stringify(r.input));
must(r.input.rejected === 2, 'input.rejected = 2');
must(r.input.accounts === 2, 'input.accounts = 2');
must(r.input.from === '2026-02-01T12:00:00.000Z' && r.input.to === '2026-02-01T12:00:09.000Z', 'from/to');
must(Array.isArray(r.accounts) && Array.isArray(r.clusters), 'accounts and clusters arrays');
const seen = new Set();
for (const a of r.accounts) {
  must(typeof a.account === 'string' && !seen.has(a.account), 'each account once');
  seen.add(a.account);
  must(['ok', 'suspicious', 'attack'].includes(a.verdict), 'verdict');
  must(typeof a.risk === 'number' && a.risk >= 0 && a.risk <= 1, 'risk in [0,1]');
  must(a.cluster === null || typeof a.cluster === 'string', 'cluster null or id');
  must(Number.isInteger(a.exchanges) && a.exchanges > 0, 'exchanges');
  must(a.first_flagged === null || (typeof a.first_flagged.ts === 'string' && Number.isInteger(a.first_flagged.exchange)), 'first_flagged');
  must(Array.isArray(a.reasons), 'reasons');
  for (const x of a.reasons) must(typeof x.signal === 'string' && typeof x.value === 'number' && typeof x.weight === 'number' && typeof x.detail === 'string', 'reason shape');
}
must(seen.has('alice') && seen.has('bob'), 'every account present');
must(r.accounts.find(a => a.account === 'alice').exchanges === 2, 'alice has 2 exchanges');
for (const c of r.clusters) must(typeof c.id === 'string' && Array.isArray(c.accounts) && typeof c.risk === 'number' && Array.isArray(c.reasons), 'cluster shape');
JS

# gzip and stdin give the same report.
gzip -c "$T/small.jsonl" > "$T/small.jsonl.gz"
"$DG_BIN" analyze --input "$T/small.jsonl.gz" --format json --output "$T/gz.json" 2>/dev/null
sed 's/small.jsonl.gz/small.jsonl/g' "$T/gz.json" | cmp -s "$T/small.json" - || fail ".jsonl.gz report differs"
"$DG_BIN" analyze --input - --format json < "$T/small.jsonl" > "$T/stdin.json" 2>/dev/null
sed 's/<stdin>/small.jsonl/g; s#'"$T"'/##g' "$T/stdin.json" > "$T/a"; sed 's#'"$T"'/##g' "$T/small.json" > "$T/b"
cmp -s "$T/a" "$T/b" || fail "stdin report differs"

# Text and HTML.
"$DG_BIN" analyze --input "$T/small.jsonl" 2>/dev/null | grep -q '^distillguard analyze: 3 records (2 rejected), 2 accounts' || fail "text summary"
"$DG_BIN" analyze --input "$T/small.jsonl" --format html --output "$T/r.html" 2>/dev/null
grep -q '<!DOCTYPE html>' "$T/r.html" || fail "html"
if grep -Eq '<script[^>]+src=|<link[^>]+href=|@import|url\(http' "$T/r.html"; then fail "html fetches from the network"; fi

# Bad arguments and unreadable inputs: exit 2 with the file named.
set +e
"$DG_BIN" analyze --input "$T/nope.jsonl" 2> "$T/e1"; rc1=$?
"$DG_BIN" analyze --input "$T/small.jsonl" --format xml 2> "$T/e2"; rc2=$?
"$DG_BIN" analyze 2> "$T/e3"; rc3=$?
"$DG_BIN" analyze --input "$T" 2> "$T/e4"; rc4=$?
set -e
[ "$rc1" -eq 2 ] && grep -q "nope.jsonl" "$T/e1" || fail "missing file: exit $rc1 $(cat "$T/e1")"
[ "$rc2" -eq 2 ] || fail "bad format: exit $rc2"
[ "$rc3" -eq 2 ] || fail "no input: exit $rc3"
[ "$rc4" -eq 2 ] && [ "$(wc -l < "$T/e4")" -eq 1 ] || fail "directory: exit $rc4"

# End to end on the smallest distillbench scenario: campaigns get caught.
if "$DG_BIN" simulate --help >/dev/null 2>&1 && [ -f "$DG_SOURCE_DIR/bench/scenarios/smoke.toml" ]; then
  "$DG_BIN" simulate --scenario "$DG_SOURCE_DIR/bench/scenarios/smoke.toml" --out "$T/smoke.jsonl.gz" --labels "$T/smoke.labels.jsonl" >/dev/null 2>&1
  "$DG_BIN" analyze --input "$T/smoke.jsonl.gz" --format json --output "$T/smoke.json" 2>/dev/null
  node - "$T/smoke.json" "$T/smoke.labels.jsonl" <<'JS'
const fs = require('fs');
const r = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const labels = fs.readFileSync(process.argv[3], 'utf8').trim().split('\n').map(JSON.parse);
const v = new Map(r.accounts.map(a => [a.account, a.verdict]));
let atk = 0, caught = 0, legit = 0, fp = 0;
for (const l of labels) {
  if (!v.has(l.account)) { console.error('missing ' + l.account); process.exit(1); }
  if (l.label === 'attack') { atk++; caught += v.get(l.account) === 'attack'; } else { legit++; fp += v.get(l.account) === 'attack'; }
}
console.log(`smoke: caught ${caught}/${atk} attack accounts, ${fp}/${legit} false positives`);
if (caught < 0.8 * atk || fp > 0.02 * legit) process.exit(1);
// The report against the spec, on real traffic: every record belongs to one
// account, clusters and accounts agree, first_flagged iff attack.
const must = (c, m) => { if (!c) { console.error('spec: ' + m); process.exit(1); } };
must(r.input.accounts === r.accounts.length, 'input.accounts = number of accounts');
must(r.accounts.reduce((n, a) => n + a.exchanges, 0) === r.input.records, 'exchanges add up to input.records');
const rfc3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
must(rfc3339.test(r.input.from) && rfc3339.test(r.input.to), 'input.from/to are RFC 3339');
const byId = new Map(r.clusters.map(c => [c.id, c]));
must(byId.size === r.clusters.length, 'cluster ids unique');
for (const a of r.accounts) {
  must((a.verdict === 'attack') === (a.first_flagged !== null), 'first_flagged iff attack: ' + a.account);
  if (a.first_flagged) must(rfc3339.test(a.first_flagged.ts) && a.first_flagged.exchange >= 1, 'first_flagged shape');
  if (a.cluster !== null) must(byId.has(a.cluster) && byId.get(a.cluster).accounts.includes(a.account), 'account in its cluster');
}
for (const c of r.clusters) {
  must(c.accounts.length >= 2, 'a cluster links accounts');
  for (const m of c.accounts) must(v.has(m) && r.accounts.find(a => a.account === m).cluster === c.id, 'member points back');
}
must(r.accounts.some(a => a.verdict === 'attack') && r.clusters.length > 0, 'smoke has flagged accounts and clusters');
JS
  # The HTML report has the plots the spec asks for, with labelled graph nodes.
  "$DG_BIN" analyze --input "$T/smoke.jsonl.gz" --format html --output "$T/smoke.html" 2>/dev/null
  for want in '<h2>Risk over time</h2><svg' '<h2>Cluster graph</h2>' "<text class='node'" '<h2>Capability areas: a flagged account next to a legitimate one</h2><svg'; do
    grep -qF "$want" "$T/smoke.html" || fail "html report lacks: $want"
  done
  first_member=$(node -e 'const r=require(process.argv[1]); const a=x=>x.verdict==="attack"?0:1;
    const c=[...r.clusters].sort((x,y)=>a(x)-a(y)||y.accounts.length-x.accounts.length)[0]; console.log(c.accounts[0].slice(0, 14))' "$T/smoke.json")
  grep -qF ">$first_member" "$T/smoke.html" || fail "cluster graph does not label $first_member"
  if grep -Eq '<script[^>]+src=|<link[^>]+href=|@import|url\(http' "$T/smoke.html"; then fail "html fetches from the network"; fi
fi
echo "analyze_cli: ok"
