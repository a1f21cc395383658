// The demo's traffic: a few personas (accounts) sending real prompts from
// data/teacher through the gateway with the official `openai` client, some
// streamed. Prints, per account, what happened. To extend the demo (new kinds
// of traffic, attack campaigns), add a persona to PERSONAS: nothing else changes.
//
// usage: node demo/traffic.mjs --base http://127.0.0.1:8080/v1 --keys keys.json
//          --data data/teacher/teacher.jsonl [--quick] [--summary out.json]
//        node demo/traffic.mjs --data data/teacher/teacher.jsonl --list-accounts
//   keys.json: {"<account>": "<api key secret>", ...} for every persona's account.
import fs from 'node:fs';
import OpenAI from 'openai';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
  if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1] && !all[i + 1].startsWith('--') ? all[i + 1] : true]);
  return acc;
}, []));
const quick = !!args.quick;
const records = fs.readFileSync(args.data, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const from = (prefix) => records.filter((r) => r.source.startsWith(prefix));

// A persona: one account and how it behaves.
//   account, tier  the account (created by demo/run.sh with this tier)
//   prompts        the real prompts it draws from, in order
//   requests       how many requests (quick mode: quickRequests)
//   streamEvery    every k-th request is streamed (0 = never)
//   system         optional system prompt
//   gapMs          pause between its requests
//   params         extra request parameters
export const PERSONAS = [
  { account: 'acme-chat', tier: 'standard', description: 'a chat app: Chatbot Arena users\' questions, mostly streamed',
    prompts: from('arena-hard'), requests: 16, quickRequests: 6, streamEvery: 2, gapMs: 150,
    params: { max_tokens: 400 } },
  { account: 'helpdesk-app', tier: 'standard', description: 'an app with one system prompt over everyday tasks',
    prompts: from('self-instruct'), requests: 12, quickRequests: 5, streamEvery: 3, gapMs: 200,
    system: 'You are the writing assistant inside a productivity app. Answer concisely.', params: { max_tokens: 300 } },
  { account: 'eval-team', tier: 'verified', description: 'a team running MT-Bench once',
    prompts: from('mt-bench'), requests: 10, quickRequests: 4, streamEvery: 0, gapMs: 100, params: { temperature: 0 } },
  { account: 'bulk-newcomer', tier: 'new', description: 'a day-old account firing prompts as fast as it can',
    prompts: from('arena-hard').slice(200), requests: 40, quickRequests: 25, streamEvery: 4, gapMs: 0,
    params: { temperature: 0, max_tokens: 600 } },
];

// `--list-accounts`: prints "account tier" lines for demo/run.sh to create.
if (args['list-accounts']) {
  for (const p of PERSONAS) console.log(`${p.account} ${p.tier}`);
  process.exit(0);
}
const keys = JSON.parse(fs.readFileSync(args.keys, 'utf8'));

async function runPersona(p) {
  const client = new OpenAI({ apiKey: keys[p.account], baseURL: args.base, maxRetries: 0, timeout: 30000 });
  const s = { account: p.account, tier: p.tier, requests: 0, ok: 0, streamed: 0, prompt_tokens: 0,
    completion_tokens: 0, refusals: 0, errors: 0, retry_after: null, sample: null };
  const n = Math.min(quick ? p.quickRequests : p.requests, p.prompts.length);
  for (let i = 0; i < n; i++) {
    const rec = p.prompts[i];
    const messages = [...(p.system ? [{ role: 'system', content: p.system }] : []), { role: 'user', content: rec.prompt }];
    const stream = p.streamEvery > 0 && i % p.streamEvery === 0;
    s.requests++;
    try {
      let text = '';
      if (stream) {
        const st = await client.chat.completions.create({ model: 'teacher-1', messages, stream: true,
          stream_options: { include_usage: true }, ...p.params });
        for await (const chunk of st) {
          text += chunk.choices[0]?.delta?.content || '';
          if (chunk.usage) { s.prompt_tokens += chunk.usage.prompt_tokens; s.completion_tokens += chunk.usage.completion_tokens; }
        }
        s.streamed++;
      } else {
        const r = await client.chat.completions.create({ model: 'teacher-1', messages, ...p.params });
        text = r.choices[0].message.content;
        s.prompt_tokens += r.usage?.prompt_tokens || 0;
        s.completion_tokens += r.usage?.completion_tokens || 0;
      }
      s.ok++;
      if (!s.sample) s.sample = { prompt: rec.prompt.slice(0, 70), answer: text.slice(0, 90) };
    } catch (e) {
      if (e instanceof OpenAI.APIError && e.status === 429) {
        s.refusals++;
        s.retry_after = e.headers?.get?.('retry-after') ?? e.headers?.['retry-after'] ?? s.retry_after;
      } else {
        s.errors++;
        s.last_error = String(e.status || '') + ' ' + (e.message || e).toString().slice(0, 120);
      }
    }
    if (p.gapMs) await new Promise((r) => setTimeout(r, p.gapMs));
  }
  return s;
}

const results = await Promise.all(PERSONAS.map(runPersona));
const pad = (x, n) => String(x).padEnd(n), lpad = (x, n) => String(x).padStart(n);
console.log(`\n${pad('account', 15)}${pad('tier', 10)}${lpad('requests', 9)}${lpad('ok', 5)}${lpad('streamed', 9)}` +
  `${lpad('prompt tok', 11)}${lpad('compl. tok', 11)}${lpad('refused', 8)}${lpad('errors', 7)}`);
for (const s of results) {
  console.log(`${pad(s.account, 15)}${pad(s.tier, 10)}${lpad(s.requests, 9)}${lpad(s.ok, 5)}${lpad(s.streamed, 9)}` +
    `${lpad(s.prompt_tokens, 11)}${lpad(s.completion_tokens, 11)}${lpad(s.refusals, 8)}${lpad(s.errors, 7)}`);
}
console.log();
for (const s of results) {
  const p = PERSONAS.find((x) => x.account === s.account);
  console.log(`  ${s.account}: ${p.description}` + (s.refusals ? ` — ${s.refusals} refused with 429 (Retry-After: ${s.retry_after ?? '?'} s)` : ''));
  if (s.last_error) console.log(`    last error: ${s.last_error}`);
}
const sample = results.find((s) => s.sample)?.sample;
if (sample) console.log(`\n  e.g. "${sample.prompt}…"\n    → "${sample.answer.replace(/\n/g, ' ')}…"`);
if (args.summary && args.summary !== true) fs.writeFileSync(args.summary, JSON.stringify(results, null, 2));
