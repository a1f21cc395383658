-- wrk script: POST a small chat completion; prints one RESULT line of JSON at the end
-- (latencies in microseconds). Env: DG_BENCH_KEY (Bearer key), DG_BENCH_STREAM=1 to stream.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("DG_BENCH_KEY") or "sk-bench")
local stream = os.getenv("DG_BENCH_STREAM") == "1"
wrk.body = '{"model":"mock-model","messages":[{"role":"user","content":"Say this is a test."}],"max_tokens":20'
  .. (stream and ',"stream":true' or '') .. '}'

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests":%d,"duration_us":%d,"bytes":%d,"socket_errors":%d,"non2xx":%d,' ..
    '"rps":%.1f,"p50_us":%.1f,"p90_us":%.1f,"p99_us":%.1f,"mean_us":%.1f,"max_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect + e.read + e.write + e.timeout, e.status,
    summary.requests / (summary.duration / 1e6), latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.mean, latency.max))
end
