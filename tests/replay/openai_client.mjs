// Talks to running replay upstreams with the official `openai` client.
// usage: node openai_client.mjs FAST_PORT SLOW_PORT FIXED_PORT TEACHER_JSONL
import fs from 'node:fs';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const [fastPort, slowPort, fixedPort, teacherFile] = process.argv.slice(2);
const client = (port) => new OpenAI({ apiKey: 'sk-replay-test', baseURL: `http://127.0.0.1:${port}/v1`, maxRetries: 0, timeout: 20000 });
const fast = client(fastPort);
const records = fs.readFileSync(teacherFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l));

async function streamText(c, params) {
  const stream = await c.chat.completions.create({ ...params, stream: true, stream_options: { include_usage: true } });
  let text = '', reasoning = '', finish = null, usage = null, chunks = 0;
  const times = [];
  for await (const chunk of stream) {
    times.push(performance.now());
    chunks++;
    if (chunk.usage) usage = chunk.usage;
    for (const ch of chunk.choices) {
      if (ch.delta?.content) text += ch.delta.content;
      if (ch.delta?.reasoning_content) reasoning += ch.delta.reasoning_content;
      if (ch.finish_reason) finish = ch.finish_reason;
    }
  }
  return { text, reasoning, finish, usage, chunks, times };
}

// 1. Known prompts: the recorded answer; streamed == non-streamed; usage agrees.
for (const rec of [records[0], records[records.length - 1], records[Math.floor(records.length / 2)]]) {
  const params = { model: 'teacher-1', messages: [{ role: 'system', content: 'You are helpful.' }, { role: 'user', content: rec.prompt }] };
  const r = await fast.chat.completions.create(params);
  assert.equal(r.choices[0].message.content, rec.response, `recorded answer for ${rec.source}`);
  assert.equal(r.choices[0].finish_reason, 'stop');
  assert.ok(r.usage.prompt_tokens > 0 && r.usage.completion_tokens > 0);
  const s = await streamText(fast, params);
  assert.equal(s.text, r.choices[0].message.content, 'stream reassembles to the non-streamed text');
  assert.ok(s.chunks > 3, 'several chunks');
  assert.equal(s.finish, 'stop');
  assert.deepEqual(s.usage, r.usage, 'usage chunk matches');
}

// 2. Unknown prompt: nearest recorded answer (a paraphrase of a known prompt).
{
  const rec = records.find((r) => r.source.startsWith('vicuna-bench')) || records[0];
  const words = rec.prompt.split(/\s+/);
  const paraphrase = 'Please, ' + words.slice(0, Math.max(4, words.length - 2)).join(' ').toLowerCase() + ' thanks';
  const { data, response } = await fast.chat.completions.create({ model: 'teacher-1', messages: [{ role: 'user', content: paraphrase }] }).withResponse();
  assert.equal(response.headers.get('x-replay-match'), 'nearest');
  assert.equal(response.headers.get('x-replay-source'), rec.source);
  assert.equal(data.choices[0].message.content, rec.response);
}

// 3. n, max_tokens, logprobs, completions, models.
{
  const r = await fast.chat.completions.create({ model: 'teacher-1', n: 2, max_tokens: 7, logprobs: true, top_logprobs: 2,
    messages: [{ role: 'user', content: records[1].prompt }] });
  assert.equal(r.choices.length, 2);
  for (const ch of r.choices) {
    assert.equal(ch.finish_reason, 'length');
    assert.equal(ch.logprobs.content.length, 7);
    assert.equal(ch.logprobs.content.map((t) => t.token).join(''), ch.message.content);
    assert.equal(ch.logprobs.content[0].top_logprobs.length, 2);
  }
  assert.equal(r.usage.completion_tokens, 14);
  const c = await fast.completions.create({ model: 'teacher-1', prompt: records[2].prompt, max_tokens: 50 });
  assert.ok(records[2].response.startsWith(c.choices[0].text));
  const models = await fast.models.list();
  assert.deepEqual(models.data.map((m) => m.id), ['teacher-1', 'teacher-reasoning']);
}

// 4. Reasoning model: reasoning_content, streamed first.
{
  const s = await streamText(fast, { model: 'teacher-reasoning', messages: [{ role: 'user', content: records[3].prompt }] });
  assert.ok(s.reasoning.length > 20, 'reasoning_content streamed');
  assert.equal(s.text, records[3].response);
  assert.ok(s.usage.completion_tokens_details.reasoning_tokens > 0);
}

// 5. Timing flags (slow server: ttft 300 ms, 400 tok/s). The server waits on timers, so
// the lower bounds hold by construction; upper bounds are generous (shared machine).
{
  const rec = records.find((r) => r.response.length > 600 && r.response.length < 2000) || records[0];
  const t0 = performance.now();
  const s = await streamText(client(slowPort), { model: 'teacher-1', max_tokens: 200, messages: [{ role: 'user', content: rec.prompt }] });
  const ttft = s.times[0] - t0, total = s.times[s.times.length - 1] - t0;
  const expected = 300 + (s.usage.completion_tokens / 400) * 1000;
  assert.ok(ttft >= 290 && ttft < 3000, `ttft ${ttft.toFixed(0)} ms, want ~300`);
  assert.ok(total >= expected * 0.9 && total < expected + 5000, `total ${total.toFixed(0)} ms, want ~${expected.toFixed(0)}`);
  // Chunks arrive spread out over the generation, not in one burst.
  const spread = s.times[s.times.length - 2] - s.times[1];
  assert.ok(spread >= (s.usage.completion_tokens / 400) * 1000 * 0.5, `chunks spread over ${spread.toFixed(0)} ms`);
}

// 6. Fixed mode: instant identical answer regardless of prompt.
{
  const fixed = client(fixedPort);
  const a = await fixed.chat.completions.create({ model: 'mock-model', messages: [{ role: 'user', content: 'a' }] });
  const b = await fixed.chat.completions.create({ model: 'mock-model', messages: [{ role: 'user', content: 'something else' }] });
  assert.equal(a.choices[0].message.content, b.choices[0].message.content);
  const s = await streamText(fixed, { model: 'mock-model', messages: [{ role: 'user', content: 'x' }] });
  assert.equal(s.text, a.choices[0].message.content);
}
console.log('openai client: ok');
