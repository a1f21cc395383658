// Combines bench/run.sh's per-round wrk results into one JSON object per target:
// latency and req/s figures are the median over rounds; requests, errors and CPU
// ticks are summed (so CPU per request = all ticks / all requests).
// usage: node aggregate.mjs OUT_DIR TARGET ROUNDS   (reads OUT_DIR/TARGET.PHASE.rN.json
//        and OUT_DIR/ttft-TARGET.txt; prints the target's JSON line)
import fs from 'node:fs';

const [dir, target, roundsArg] = process.argv.slice(2);
const rounds = +roundsArg;
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const out = { target, rounds };
for (const phase of ['c32', 'c1', 'stream_c32']) {
  const rs = [];
  for (let i = 1; i <= rounds; i++) rs.push(JSON.parse(fs.readFileSync(`${dir}/${target}.${phase}.r${i}.json`, 'utf8')));
  const agg = {};
  for (const k of ['rps', 'p50_us', 'p90_us', 'p99_us', 'mean_us']) agg[k] = +median(rs.map((r) => r.res[k])).toFixed(1);
  agg.max_us = Math.max(...rs.map((r) => r.res.max_us));
  for (const k of ['requests', 'duration_us', 'bytes', 'socket_errors', 'non2xx']) agg[k] = rs.reduce((a, r) => a + r.res[k], 0);
  agg.per_round = rs.map((r) => ({ rps: r.res.rps, p50_us: r.res.p50_us, p99_us: r.res.p99_us, ticks: r.ticks }));
  out[phase] = agg;
  out[`${phase}_cpu_ticks`] = rs.reduce((a, r) => a + r.ticks, 0);
}
const line = fs.readFileSync(`${dir}/ttft-${target}.txt`, 'utf8').split('\n').find((l) => l.startsWith('RESULT '));
out.ttft = JSON.parse(line.slice(7));
console.log(JSON.stringify(out));
