#!/usr/bin/env bash
# Runs the README's first command's script (demo/run.sh) in quick mode on free
# ports and checks its summary: every persona got answers with token counts, the
# account pushed past its limits was refused with 429s, audit verify passed; and
# what was caught (verdicts.json, from audit export | analyze and the audit log's
# actions): every campaign account judged `attack` and met a countermeasure live,
# no legitimate account judged `attack` or touched by one; an HTML report written.
set -euo pipefail
: "${DG_BIN:?}" "${DG_SOURCE_DIR:?}" "${DG_TMP:?}"
for cmd in serve accounts keys audit; do
  "$DG_BIN" "$cmd" --help >/dev/null 2>&1 || { echo "demo: skipped, no '$cmd' command in this build"; exit 77; }
done
rm -rf "$DG_TMP" && mkdir -p "$DG_TMP"
start=$(date +%s)
DG_DEMO_PORTS=free DG_DEMO_DIR="$DG_TMP/demo" timeout 170 bash "$DG_SOURCE_DIR/demo/run.sh" --quick | tee "$DG_TMP/demo.out"
elapsed=$(( $(date +%s) - start ))
grep -q 'audit verify exit status: 0' "$DG_TMP/demo.out"
grep -q 'metrics:' "$DG_TMP/demo.out"
node - "$DG_TMP/demo/summary.json" <<'JS'
const s = JSON.parse(require('fs').readFileSync(process.argv[2], 'utf8'));
const by = Object.fromEntries(s.map((a) => [a.account, a]));
const fail = (m) => { console.error('demo summary: ' + m); process.exit(1); };
if (s.length < 4) fail('expected at least 4 accounts');
for (const a of s) {
  if (a.requests < 1) fail(`${a.account} sent nothing`);
  if (a.errors) fail(`${a.account} had ${a.errors} unexpected errors: ${a.last_error}`);
  if (a.ok && !(a.prompt_tokens > 0 && a.completion_tokens > 0)) fail(`${a.account} has no token counts`);
}
for (const name of ['acme-chat', 'helpdesk-app', 'eval-team'])
  if (by[name].ok !== by[name].requests || by[name].refusals) fail(`${name} (within limits) was refused`);
if (!(by['acme-chat'].streamed > 0)) fail('no streamed request');
if (!(by['bulk-newcomer'].refusals > 0)) fail('bulk-newcomer was never refused');
if (!(by['bulk-newcomer'].ok > 0)) fail('bulk-newcomer got nothing through');
console.log('demo summary: ok');
JS
grep -q 'HTML report:' "$DG_TMP/demo.out"
[ -s "$DG_TMP/demo/report.html" ] || { echo "demo: no HTML report"; exit 1; }
node - "$DG_TMP/demo/verdicts.json" "$DG_TMP/demo/summary.json" <<'JS'
const fs = require('fs');
const rows = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const summary = JSON.parse(fs.readFileSync(process.argv[3], 'utf8'));
const fail = (m) => { console.error('demo verdicts: ' + m); process.exit(1); };
if (rows.length !== summary.length) fail(`${rows.length} rows for ${summary.length} accounts`);
const campaign = rows.filter((r) => r.kind === 'campaign'), legit = rows.filter((r) => r.kind === 'legit');
if (campaign.length < 2 || legit.length < 2) fail('expected campaign and legitimate accounts');
for (const r of campaign) {
  if (r.verdict !== 'attack') fail(`campaign account ${r.account} not caught: verdict ${r.verdict}, risk ${r.risk}`);
  if (!['throttle', 'degrade', 'trace', 'block'].includes(r.strongest_action))
    fail(`campaign account ${r.account} met no countermeasure (strongest action ${r.strongest_action})`);
  if (!r.reasons.length) fail(`campaign account ${r.account} flagged without reasons`);
}
for (const r of legit) {
  if (r.verdict === 'attack') fail(`legitimate account ${r.account} flagged: risk ${r.risk}, ${r.reasons.join('; ')}`);
  if (r.strongest_action !== 'allow') fail(`legitimate account ${r.account} met a countermeasure: ${r.strongest_action}`);
}
console.log(`demo verdicts: ok (${campaign.length} campaign accounts caught, ${legit.length} legitimate untouched)`);
JS
# No process left running with the demo's working directory on its command line.
for f in /proc/[0-9]*/cmdline; do
  cmd=$(tr '\0' ' ' <"$f" 2>/dev/null || true)
  case "$cmd" in *"$DG_TMP/demo/distillguard.toml"*) echo "demo left a process behind: $cmd"; exit 1 ;; esac
done
echo "demo: ok in ${elapsed}s"
