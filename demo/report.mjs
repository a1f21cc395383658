// The demo's verdict table: per account, what the traffic saw (demo/traffic.mjs's
// summary), what the gateway did (the audit log's `action` per exchange, from
// `distillguard audit export`) and what the detection engine concluded
// (`distillguard analyze --format json` over the same log: verdict, risk, reasons).
// Says plainly whether the campaign was caught and whether a legitimate account
// was flagged; writes the joined table as JSON for tests.
//
// usage: node demo/report.mjs --summary summary.json --audit audit.jsonl
//          --analysis analysis.json [--out verdicts.json]
import fs from 'node:fs';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
  if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1]]);
  return acc;
}, []));
const summary = JSON.parse(fs.readFileSync(args.summary, 'utf8'));
const analysis = JSON.parse(fs.readFileSync(args.analysis, 'utf8'));
const audit = fs.readFileSync(args.audit, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));

const byAccount = new Map();
for (const r of audit) {
  if (!r.account) continue;
  const a = byAccount.get(r.account) ?? { actions: {}, last: null, refused_by: {}, limit_note: null };
  // A request refused by a stage (limit, at the share of its limits the policy
  // ladder left it; assess's capability/cluster limits) is counted by stage.
  const notes = r.notes || [];
  const lastStage = notes.length ? notes[notes.length - 1].stage : null;
  if (r.status >= 400 && lastStage && lastStage !== 'policy' && lastStage !== 'forward') {
    a.refused_by[lastStage] = (a.refused_by[lastStage] || 0) + 1;
    if (lastStage === 'limit') a.limit_note = notes[notes.length - 1].note;
  } else {
    const action = r.action || 'allow';
    a.actions[action] = (a.actions[action] || 0) + 1;
    a.last = action;
  }
  byAccount.set(r.account, a);
}
const engine = new Map((analysis.accounts || []).map((a) => [a.account, a]));

const rows = summary.map((s) => {
  const g = byAccount.get(s.account) ?? { actions: {}, last: null, refused_by: {} };
  const e = engine.get(s.account);
  const strongest = ['block', 'trace', 'degrade', 'throttle', 'allow'].find((x) => g.actions[x]) ?? '-';
  return {
    account: s.account, kind: s.kind, requests: s.requests, ok: s.ok, refused: s.refusals + (s.blocked || 0),
    final_action: g.last ?? '-', strongest_action: strongest, actions: g.actions, refused_by: g.refused_by,
    limit_note: g.limit_note,
    verdict: e?.verdict ?? 'unseen', risk: e?.risk ?? null, cluster: e?.cluster ?? null,
    first_flagged: e?.first_flagged ?? null,
    reasons: (e?.reasons ?? []).map((r) => r.detail || r.signal),
  };
});

const pad = (x, n) => String(x).padEnd(n), lpad = (x, n) => String(x).padStart(n);
console.log('  final action / strongest: the policy ladder\'s action on the last / harshest exchange that reached it\n');
console.log(`${pad('account', 14)}${pad('persona', 10)}${lpad('requests', 9)}${lpad('refused', 8)}  ${pad('final action', 13)}` +
  `${pad('strongest', 10)}${pad('verdict', 11)}${lpad('risk', 5)}  top reasons`);
for (const r of rows) {
  console.log(`${pad(r.account, 14)}${pad(r.kind, 10)}${lpad(r.requests, 9)}${lpad(r.refused, 8)}  ${pad(r.final_action, 13)}` +
    `${pad(r.strongest_action, 10)}${pad(r.verdict, 11)}${lpad(r.risk === null ? '-' : r.risk.toFixed(2), 5)}  ` +
    (r.reasons.filter((x) => !x.startsWith('member of cluster')).slice(0, 2).join('; ') || '-'));
}
console.log();
for (const r of rows.filter((x) => x.verdict !== 'ok' && x.verdict !== 'unseen')) {
  const ff = r.first_flagged ? `, flagged at its exchange #${r.first_flagged.exchange}` : '';
  const acts = Object.entries(r.actions).map(([a, n]) => `${n} ${a}`).join(', ');
  const early = Object.entries(r.refused_by).map(([st, n]) => `${n} refused by ${st}`).join(', ');
  console.log(`  ${r.account} (${r.kind}): ${r.verdict}, risk ${r.risk.toFixed(2)}${r.cluster ? `, cluster ${r.cluster}` : ''}${ff}`);
  console.log(`      gateway: policy ${acts || 'never reached'}${early ? `; ${early}` : ''}`);
  if (r.limit_note) console.log(`      last limit refusal (limits tighten as risk rises): ${r.limit_note}`);
  for (const reason of r.reasons.slice(0, 5)) console.log(`      reason: ${reason}`);
}
for (const c of (analysis.clusters || []).filter((c) => c.verdict && c.verdict !== 'ok')) {
  console.log(`  cluster ${c.id} (${c.accounts.join(', ')}): ${c.verdict}, risk ${Number(c.risk).toFixed(2)}`);
  for (const reason of (c.reasons || []).slice(0, 3)) console.log(`      - ${reason.detail || reason.signal}`);
}

const campaign = rows.filter((r) => r.kind === 'campaign'), legit = rows.filter((r) => r.kind === 'legit');
const caught = campaign.filter((r) => r.verdict === 'attack');
const acted = campaign.filter((r) => r.strongest_action !== 'allow' && r.strongest_action !== '-');
const falsePos = legit.filter((r) => r.verdict === 'attack');
const touched = legit.filter((r) => r.strongest_action !== 'allow' && r.strongest_action !== '-');
console.log();
console.log(`  campaign: ${caught.length} of ${campaign.length} accounts judged attack by the engine; ` +
  `${acted.length} of ${campaign.length} met a countermeasure live in the gateway (throttle/degrade/trace/block).`);
if (caught.length < campaign.length)
  console.log(`  NOT caught: ${campaign.filter((r) => r.verdict !== 'attack').map((r) => `${r.account} (${r.verdict})`).join(', ')}` +
    ' — the demo reports this as it is.');
console.log(`  legitimate: ${legit.length - falsePos.length} of ${legit.length} accounts not flagged as attack` +
  (falsePos.length ? ` — FLAGGED: ${falsePos.map((r) => r.account).join(', ')}` : '') +
  (touched.length ? `; countermeasures touched: ${touched.map((r) => `${r.account} (${r.strongest_action})`).join(', ')}` : '') + '.');
if (args.out) fs.writeFileSync(args.out, JSON.stringify(rows, null, 2));
