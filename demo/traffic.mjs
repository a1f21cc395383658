// The demo's traffic: a few personas (accounts) sending real prompts from
// data/teacher and data/prompts through the gateway with the official `openai`
// client, some streamed. Legitimate personas (kind "legit") run next to a
// distillation campaign (kind "campaign"): one bulk extractor sweeping every
// capability area with rotating chain-of-thought templates at temperature 0
// with log-probabilities, and a small hydra (three accounts sharing the same
// templates, each taking its own slice of the prompt pool). Prints, per
// account, what happened. To extend the demo, add a persona to PERSONAS.
//
// usage: node demo/traffic.mjs --base http://127.0.0.1:8080/v1 --keys keys.json
//          --data data/teacher/teacher.jsonl [--quick] [--summary out.json]
//        node demo/traffic.mjs --data data/teacher/teacher.jsonl --list-accounts
//   keys.json: {"<account>": "<api key secret>", ...} for every persona's account.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { Readable } from 'node:stream';
import OpenAI from 'openai';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
  if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1] && !all[i + 1].startsWith('--') ? all[i + 1] : true]);
  return acc;
}, []));
const quick = !!args.quick;
const records = fs.readFileSync(args.data, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const from = (prefix) => records.filter((r) => r.source.startsWith(prefix));
// data/prompts/<file>.jsonl (real prompts, attribution in data/prompts/SOURCES.md) as {prompt}.
const promptsDir = path.join(path.dirname(args.data), '..', 'prompts');
const pool = (file, n, skip = 0) => fs.readFileSync(path.join(promptsDir, file + '.jsonl'), 'utf8').trim().split('\n')
  .slice(skip, skip + n).map((l) => ({ prompt: JSON.parse(l).text }));
// A harvest sweeps every area: round-robin over the pools.
const sweep = (pools) => {
  const out = [];
  for (let i = 0; pools.some((p) => i < p.length); i++) for (const p of pools) if (i < p.length) out.push(p[i]);
  return out;
};
// The campaign's prompt templates: chain-of-thought elicitation, rotated (a real
// harvester paraphrases its wrapper rather than sending one fixed template).
const COT_TEMPLATES = [
  (q) => `Question: ${q}\n\nThink step by step and explain the reasoning behind your answer before giving the final answer.`,
  (q) => `${q}\n\nLet's think step by step. Show your work, then state the final answer.`,
  (q) => `Solve the following task and explain your reasoning step by step.\n\n${q}`,
  (q) => `Task: ${q}\nWalk through your internal reasoning in detail, then give the answer.`,
];
const HYDRA_TEMPLATES = [
  (q) => `Instruction: ${q}\n\nReason step by step and show all intermediate steps before the final answer.`,
  (q) => `${q}\n\nExplain the reasoning behind your answer step by step, then give the final answer.`,
];
const harvestParams = { temperature: 0, logprobs: true, top_logprobs: 5, max_tokens: 400 };

// A persona: one account and how it behaves.
//   account, tier  the account (created by demo/run.sh with this tier)
//   prompts        the real prompts it draws from, in order
//   requests       how many requests (quick mode: quickRequests)
//   streamEvery    every k-th request is streamed (0 = never)
//   system         optional system prompt
//   gapMs          pause between its requests
//   params         extra request parameters
//   kind           "legit" or "campaign" (what the demo expects the engine to find)
//   templates      optional prompt wrappers, rotated per request
//   userAgent      optional User-Agent (an application names itself; the campaign's
//                  scripts send the SDK's default)
export const PERSONAS = [
  { account: 'acme-chat', userAgent: 'AcmeChat/3.2 (web)', tier: 'standard', description: 'a chat app: Chatbot Arena users\' questions, mostly streamed',
    prompts: from('arena-hard'), requests: 16, quickRequests: 6, streamEvery: 2, gapMs: 150,
    params: { max_tokens: 400 } },
  { account: 'helpdesk-app', userAgent: 'HelpdeskApp/1.14', tier: 'standard', description: 'an app with one system prompt over everyday tasks',
    prompts: from('self-instruct'), requests: 12, quickRequests: 5, streamEvery: 3, gapMs: 200,
    system: 'You are the writing assistant inside a productivity app. Answer concisely.', params: { max_tokens: 300 } },
  { account: 'eval-team', userAgent: 'mt-bench-runner/0.9', tier: 'verified', description: 'a team running MT-Bench once',
    prompts: from('mt-bench'), requests: 10, quickRequests: 4, streamEvery: 0, gapMs: 100, params: { temperature: 0 } },
  { account: 'bulk-newcomer', userAgent: 'newco-importer/0.1', tier: 'new', description: 'a day-old account firing prompts as fast as it can',
    prompts: from('arena-hard').slice(200), requests: 40, quickRequests: 25, streamEvery: 4, gapMs: 0,
    params: { temperature: 0, max_tokens: 600 } },
  // The campaign.
  { account: 'harvest-labs', tier: 'standard', kind: 'campaign',
    description: 'bulk extractor: every capability area, chain-of-thought templates, temperature 0, logprobs',
    prompts: sweep([pool('math', 12), pool('code', 12), pool('chat', 12), pool('tasks', 12), pool('multilingual', 12),
      pool('support', 12), pool('graded', 12, 100), pool('system', 12)]),
    templates: COT_TEMPLATES, requests: 70, quickRequests: 45, streamEvery: 0, gapMs: 0, params: harvestParams },
  ...['hydra-1', 'hydra-2', 'hydra-3'].map((account, k) => ({
    account, tier: 'standard', kind: 'campaign',
    description: `hydra account ${k + 1} of 3: shared templates, its own slice of the prompt pool, logprobs`,
    prompts: sweep([pool('math', 10, 100 + 10 * k), pool('code', 10, 100 + 10 * k), pool('chat', 10, 100 + 10 * k),
      pool('tasks', 10, 50 + 10 * k), pool('support', 10, 100 + 10 * k)]),
    templates: HYDRA_TEMPLATES, requests: 30, quickRequests: 22, streamEvery: 0, gapMs: 20, params: harvestParams })),
];
for (const p of PERSONAS) p.kind ??= 'legit';

// `--list-accounts`: prints "account tier" lines for demo/run.sh to create.
if (args['list-accounts']) {
  for (const p of PERSONAS) console.log(`${p.account} ${p.tier}`);
  process.exit(0);
}
const keys = JSON.parse(fs.readFileSync(args.keys, 'utf8'));

// Each persona connects from its own client address (127.0.<k>.1: a /24 of its
// own on the loopback /8), as customers on different networks would; otherwise
// every account would share one address block, which the engine rightly counts
// as evidence that they are run by one actor. A fetch over node:http with
// `localAddress`, for the openai client's `fetch` option.
function fetchFrom(localAddress) {
  return (url, init = {}) => new Promise((resolve, reject) => {
    const headers = Object.fromEntries(new Headers(init.headers || {}).entries());
    const req = http.request(String(url), { method: init.method || 'GET', headers, localAddress, signal: init.signal },
      (res) => {
        const h = new Headers();
        for (const [k, v] of Object.entries(res.headers)) h.set(k, Array.isArray(v) ? v.join(', ') : String(v));
        const body = res.statusCode === 204 ? null : Readable.toWeb(res);
        resolve(new Response(body, { status: res.statusCode, headers: h }));
      });
    req.on('error', reject);
    if (init.body) req.write(init.body);
    req.end();
  });
}

async function runPersona(p, index) {
  const client = new OpenAI({ apiKey: keys[p.account], baseURL: args.base, maxRetries: 0, timeout: 30000,
    fetch: fetchFrom(`127.0.${10 + index}.1`), ...(p.userAgent ? { defaultHeaders: { 'User-Agent': p.userAgent } } : {}) });
  const s = { account: p.account, tier: p.tier, requests: 0, ok: 0, streamed: 0, prompt_tokens: 0,
    completion_tokens: 0, refusals: 0, blocked: 0, errors: 0, retry_after: null, sample: null,
    kind: p.kind, refusal_codes: {} };
  const n = Math.min(quick ? p.quickRequests : p.requests, p.prompts.length);
  for (let i = 0; i < n; i++) {
    const rec = p.prompts[i];
    const prompt = p.templates ? p.templates[i % p.templates.length](rec.prompt) : rec.prompt;
    const messages = [...(p.system ? [{ role: 'system', content: p.system }] : []), { role: 'user', content: prompt }];
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
      if (e instanceof OpenAI.APIError && (e.status === 429 || e.status === 403)) {
        // 429: rate limits or the policy's throttle; 403: blocked by policy.
        if (e.status === 429) s.refusals++; else s.blocked++;
        const code = e.code || e.error?.code || String(e.status);
        s.refusal_codes[code] = (s.refusal_codes[code] || 0) + 1;
        if (e.status === 429) s.retry_after = e.headers?.get?.('retry-after') ?? e.headers?.['retry-after'] ?? s.retry_after;
      } else {
        s.errors++;
        s.last_error = String(e.status || '') + ' ' + (e.message || e).toString().slice(0, 120);
      }
    }
    if (p.gapMs) await new Promise((r) => setTimeout(r, p.gapMs));
  }
  return s;
}

const results = await Promise.all(PERSONAS.map((p, i) => runPersona(p, i)));
const pad = (x, n) => String(x).padEnd(n), lpad = (x, n) => String(x).padStart(n);
console.log(`\n${pad('account', 15)}${pad('tier', 10)}${lpad('requests', 9)}${lpad('ok', 5)}${lpad('streamed', 9)}` +
  `${lpad('prompt tok', 11)}${lpad('compl. tok', 11)}${lpad('429', 6)}${lpad('403', 6)}${lpad('errors', 7)}`);
for (const s of results) {
  console.log(`${pad(s.account, 15)}${pad(s.tier, 10)}${lpad(s.requests, 9)}${lpad(s.ok, 5)}${lpad(s.streamed, 9)}` +
    `${lpad(s.prompt_tokens, 11)}${lpad(s.completion_tokens, 11)}${lpad(s.refusals, 6)}${lpad(s.blocked, 6)}${lpad(s.errors, 7)}`);
}
console.log();
for (const s of results) {
  const p = PERSONAS.find((x) => x.account === s.account);
  const codes = Object.entries(s.refusal_codes).map(([c, n]) => `${n} ${c}`).join(', ');
  console.log(`  ${s.account} (${p.kind}): ${p.description}` +
    (codes ? ` — refused: ${codes}` + (s.retry_after ? ` (last Retry-After: ${s.retry_after} s)` : '') : ''));
  if (s.last_error) console.log(`    last error: ${s.last_error}`);
}
const sample = results.find((s) => s.sample)?.sample;
if (sample) console.log(`\n  e.g. "${sample.prompt}…"\n    → "${sample.answer.replace(/\n/g, ' ')}…"`);
if (args.summary && args.summary !== true) fs.writeFileSync(args.summary, JSON.stringify(results, null, 2));
