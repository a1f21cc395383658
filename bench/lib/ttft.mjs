// Time to first token: N sequential streamed chat completions over one keep-alive
// connection; TTFT = request start to the first SSE "data:" byte. The first 20 are
// warm-up and dropped. Bounded: stops after 30 s. Prints one RESULT line of JSON (µs).
// usage: node ttft.mjs URL [N]    env: DG_BENCH_KEY
import http from 'node:http';

const [url, nArg] = process.argv.slice(2);
const N = +(nArg || 300);
const u = new URL(url);
const body = JSON.stringify({ model: 'mock-model', stream: true, max_tokens: 20,
  messages: [{ role: 'user', content: 'Say this is a test.' }] });
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const headers = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body),
  authorization: 'Bearer ' + (process.env.DG_BENCH_KEY || 'sk-bench') };

function one() {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    let ttft = null;
    const req = http.request({ host: u.hostname, port: u.port, path: '/v1/chat/completions', method: 'POST', agent, headers }, (res) => {
      res.on('data', (c) => { if (ttft === null && c.includes('data:')) ttft = process.hrtime.bigint(); });
      res.on('end', () => resolve({ status: res.statusCode, ttft: Number(ttft - t0) / 1e3, total: Number(process.hrtime.bigint() - t0) / 1e3 }));
    });
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

const pct = (a, q) => { const s = [...a].sort((x, y) => x - y); return s[Math.min(s.length - 1, Math.floor(q * s.length))]; };
const ttft = [], total = [];
const deadline = Date.now() + 30000;
for (let i = 0; i < N && Date.now() < deadline; i++) {
  const r = await one();
  if (r.status !== 200) { console.error(`ttft: status ${r.status}`); process.exit(1); }
  if (i >= 20) { ttft.push(r.ttft); total.push(r.total); }
}
agent.destroy();
const f = (x) => +x.toFixed(1);
console.log('RESULT ' + JSON.stringify({ n: ttft.length, p50_us: f(pct(ttft, 0.5)), p90_us: f(pct(ttft, 0.9)),
  p99_us: f(pct(ttft, 0.99)), total_p50_us: f(pct(total, 0.5)), total_p99_us: f(pct(total, 0.99)) }));
