#!/usr/bin/env bash
# Real records (a small distillbench scenario) through the exchange record
# parser: written back they equal the line; the analyze options drop only
# generated text and unknown fields (engine_bench --roundtrip checks both).
set -euo pipefail
BENCH="$1"
T="$DG_TMP"; rm -rf "$T"; mkdir -p "$T"
"$DG_BIN" simulate --scenario "$DG_SOURCE_DIR/bench/scenarios/smoke.toml" --out "$T/smoke.jsonl.gz" --labels "$T/labels.jsonl" >/dev/null
"$BENCH" --roundtrip "$T/smoke.jsonl.gz"
# Records with generated text and unknown fields, as a provider's own logs carry them.
printf '%s\n' \
  '{"ts":"2026-02-01T12:00:00.000Z","account":"a","endpoint":"/v1/chat/completions","request":{"messages":[{"role":"user","content":"hi \u00e9"}]},"response":{"choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"hello","reasoning_content":"r"},"logprobs":{"content":[{"token":"he","logprob":-0.5}]}}],"usage":{"prompt_tokens":2,"completion_tokens":1}},"status":200,"latency_ms":12.5,"region":"eu","trace":{"id":[1,2]}}' \
  '{"ts":"2026-02-01T12:00:01.000Z","account":"b","endpoint":"/v1/completions","request":{"prompt":"p","logprobs":5},"response":{"choices":[{"index":0,"text":"t","finish_reason":"length"}]}}' \
  > "$T/provider.jsonl"
"$BENCH" --roundtrip "$T/provider.jsonl"
echo "record_roundtrip: ok"
