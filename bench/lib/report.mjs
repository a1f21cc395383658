// Renders bench/run.sh's results.json as the Markdown of docs/benchmarks.md.
// usage: node report.mjs results.json
import fs from 'node:fs';

const r = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const by = Object.fromEntries(r.targets.map((t) => [t.target, t]));
const names = { direct: '(a) direct → upstream', nginx: '(b) nginx proxy_pass', haproxy: '(c) HAProxy',
  'dg-on': '(d) distillguard, all stages on', 'dg-off': '(e) distillguard, all stages off' };
const us = (x) => (x == null || Number.isNaN(x) ? '—' : x >= 10000 ? `${(x / 1000).toFixed(1)} ms` : `${Math.round(x)} µs`);
const int = (x) => (x == null ? '—' : Math.round(x).toLocaleString('en-US'));
const pct = (a, b) => (a == null || b == null || !b ? '—' : `${Math.round((100 * a) / b)}%`);
const signed = (x) => (x == null ? '—' : `${x >= 0 ? '+' : '−'}${Math.round(Math.abs(x))} µs`);
const cpu = (t, k) => (t[`${k}_cpu_ticks`] * 1e6) / r.clk_tck / Math.max(1, t[k].requests);
const direct = by.direct, nginx = by.nginx;
const out = [];
const p = (s = '') => out.push(s);

p('# Gateway benchmark');
p();
p(`Measured ${r.date} with \`${r.command}\`${r.quick ? ' (quick mode: short runs, figures are rougher)' : ''}` +
  ` at commit \`${r.versions.commit}\`. Rerun with \`./dg bench\` (installs wrk, nginx-light, haproxy, builds, runs \`bench/run.sh\`).`);
p();
p(`Machine: ${r.machine.nproc} × ${r.machine.cpu}, Linux ${r.machine.kernel}; load average before/after: ` +
  `${r.machine.load_before} / ${r.machine.load_after}. Everything runs on 127.0.0.1 on the same cores — wrk, the ` +
  'upstream and the proxy compete for CPU — so absolute req/s understate what a proxy could do alone; compare ratios ' +
  'and CPU per request. The machine was shared with other engineers building and testing during the session, so ' +
  'expect noise of ±15%, more on p99.');
p();
const load = parseFloat(r.machine.load_before);
if (load > r.machine.nproc / 2)
  p(`**Warning: the machine was busy during this run** (1-minute load ${load} on ${r.machine.nproc} cores — other ` +
    'engineers were building and testing). Throughput, p99 and the ratios between targets are distorted by CPU ' +
    'contention; CPU per request and p50 are the most robust figures here. Rerun on a quiet machine for clean figures.');
if (load > r.machine.nproc / 2) p();
p(`Versions: nginx ${r.versions.nginx}, HAProxy ${r.versions.haproxy}, wrk ${r.versions.wrk}, distillguard ${r.versions.distillguard}.`);
p();
p(`Upstream: \`distillguard replay-upstream --fixed\` (instant fixed 390-byte chat completion; streamed: 7 SSE events — role, 4 content chunks, finish, [DONE]). ` +
  `Each wrk run: ${r.duration_s} s after a ${r.warmup_s} s warm-up` +
  ((r.rounds || 1) > 1 ? `, repeated in ${r.rounds} rounds interleaved across targets (figures are medians over rounds; CPU per request uses the totals)` : '') +
  '; body `bench/lib/post.lua`. ' +
  'nginx: 1 worker, upstream keep-alive, ' +
  '`proxy_buffering off`; HAProxy: 1 thread, `http-reuse always`; distillguard: `io_threads = 1`, config from `bench/lib/dg-config.sh`. ' +
  'CPU per request = utime+stime of the proxy process(es) over the run (from `/proc/PID/stat`) ÷ requests; for (a) it is the upstream\'s own.');
p();
for (const [k, v] of Object.entries(r.notes || {})) p(`**${names[k] || k}**: ${v}`);
if (Object.keys(r.notes || {}).length) p();

if (nginx && (by['dg-on'] || by['dg-off'])) {
  const parts = [];
  for (const k of ['dg-on', 'dg-off']) {
    const t = by[k];
    if (!t) continue;
    parts.push(`with every stage ${k === 'dg-on' ? 'on' : 'off'}, distillguard spent ${cpu(t, 'c32').toFixed(1)} µs of CPU per ` +
      `request (${(cpu(t, 'c32') / cpu(nginx, 'c32')).toFixed(1)}× nginx's ${cpu(nginx, 'c32').toFixed(1)} µs) and added ` +
      `${signed(direct ? t.c1.p50_us - direct.c1.p50_us : null)} p50 at one connection (nginx: ${signed(direct ? nginx.c1.p50_us - direct.c1.p50_us : null)})`);
  }
  p(`**Summary.** In this run, ${parts.join('; ')}. CPU per request is the figure least disturbed by a shared machine.`);
  p();
}
p('## Throughput, 32 connections (non-streaming)');
p();
p('| target | req/s | vs nginx | p50 | p99 | CPU / request | CPU vs nginx | errors |');
p('|---|--:|--:|--:|--:|--:|--:|--:|');
for (const t of r.targets) {
  const c = cpu(t, 'c32');
  p(`| ${names[t.target]} | ${int(t.c32.rps)} | ${nginx ? pct(t.c32.rps, nginx.c32.rps) : '—'} | ${us(t.c32.p50_us)} | ${us(t.c32.p99_us)} | ` +
    `${c.toFixed(1)} µs | ${nginx ? (c / cpu(nginx, 'c32')).toFixed(2) + '×' : '—'} | ${t.c32.socket_errors + t.c32.non2xx} |`);
}
p();
p('## Latency, 1 connection (non-streaming)');
p();
p('| target | req/s | p50 | p99 | added p50 | added p99 | added p50 vs nginx\'s |');
p('|---|--:|--:|--:|--:|--:|--:|');
for (const t of r.targets) {
  const a50 = direct ? t.c1.p50_us - direct.c1.p50_us : null, a99 = direct ? t.c1.p99_us - direct.c1.p99_us : null;
  const n50 = direct && nginx ? nginx.c1.p50_us - direct.c1.p50_us : null;
  p(`| ${names[t.target]} | ${int(t.c1.rps)} | ${us(t.c1.p50_us)} | ${us(t.c1.p99_us)} | ${t.target === 'direct' ? '—' : signed(a50)} | ` +
    `${t.target === 'direct' ? '—' : signed(a99)} | ${t.target === 'direct' || !n50 ? '—' : (a50 / n50).toFixed(2) + '×'} |`);
}
p();
p(`## Streaming: time to first token (${r.ttft_n} sequential keep-alive requests, first 20 dropped) and 32-connection streams`);
p();
p('| target | TTFT p50 | TTFT p99 | added TTFT p50 | stream req/s (c32) | vs nginx | stream p99 (c32) | CPU / stream |');
p('|---|--:|--:|--:|--:|--:|--:|--:|');
for (const t of r.targets) {
  const add = direct ? t.ttft.p50_us - direct.ttft.p50_us : null;
  p(`| ${names[t.target]} | ${us(t.ttft.p50_us)} | ${us(t.ttft.p99_us)} | ${t.target === 'direct' ? '—' : signed(add)} | ` +
    `${int(t.stream_c32.rps)} | ${nginx ? pct(t.stream_c32.rps, nginx.stream_c32.rps) : '—'} | ${us(t.stream_c32.p99_us)} | ${cpu(t, 'stream_c32').toFixed(1)} µs |`);
}
p();

p('## Against the goals of issue 2');
p();
const on = by['dg-on'], off = by['dg-off'];
const goal = (label, value, ok) => p(`| ${label} | ${value} | ${ok == null ? 'not measured' : ok ? 'met' : '**not met**'} |`);
p('| goal | measured | |');
p('|---|--:|---|');
if (on && nginx && direct) {
  const thr = on.c32.rps / nginx.c32.rps;
  goal('stages on: throughput ≥ 70% of nginx (c32)', `${Math.round(100 * thr)}%`, thr >= 0.7);
  const a50 = on.c1.p50_us - direct.c1.p50_us, a99 = on.c1.p99_us - direct.c1.p99_us;
  goal('stages on: added latency at c1 ≤ 60 µs p50', signed(a50), a50 <= 60);
  goal('stages on: added latency at c1 ≤ 300 µs p99', signed(a99), a99 <= 300);
  const tt = on.ttft.p50_us - direct.ttft.p50_us;
  goal('stages on: ≤ 100 µs added to the first token (p50)', signed(tt), tt <= 100);
} else {
  goal('stages on: all goals', '—', null);
}
if (off && nginx) {
  const thr = off.c32.rps / nginx.c32.rps;
  goal('stages off: throughput within 10% of nginx (c32)', `${Math.round(100 * thr)}%`, thr >= 0.9);
  const a = off.c1.p50_us - direct.c1.p50_us, n = nginx.c1.p50_us - direct.c1.p50_us;
  goal('stages off: added p50 at c1 within 10% of nginx\'s', `${signed(a)} vs ${signed(n)}`, a <= n * 1.1 + 2);
} else {
  goal('stages off: within 10% of nginx', '—', null);
}
p();
p('Raw wrk output and `results.json` of this run: `bench/results/<UTC time>/` (not committed); the last run\'s ' +
  '`results.json` is committed as `bench/results/latest.json`.');
console.log(out.join('\n'));
