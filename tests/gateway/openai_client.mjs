// The official openai npm client against the gateway (auth off): streaming and
// not, the error statuses as the client's error classes, an upstream dying
// mid-stream (the client's iterator throws APIError), and an aborted stream.
// Usage: node openai_client.mjs http://HOST:PORT http://UPSTREAM
import OpenAI from 'openai';
import assert from 'node:assert/strict';

const [base, upstream] = process.argv.slice(2);
const client = new OpenAI({ baseURL: base + '/v1', apiKey: 'unused-auth-off', maxRetries: 0, timeout: 20000 });
let exchanges = 0;
const msg = (content) => [{ role: 'user', content }];

async function expectError(cls, status, code, fn) {
  exchanges++;
  try {
    await fn();
  } catch (e) {
    assert.ok(e instanceof cls, `want ${cls.name}, got ${e.constructor.name}: ${e.message}`);
    assert.equal(e.status, status);
    assert.equal(e.code, code);
    console.log(`ok: openai ${cls.name} ${status} ${code}`);
    return;
  }
  throw new Error(`want ${cls.name}, got success`);
}

// Non-streamed.
const r = await client.chat.completions.create({ model: 'fake-1', messages: msg('hi chunks:3') });
exchanges++;
assert.equal(r.choices[0].message.content, 'w0 w1 w2 ');
assert.equal(r.usage.completion_tokens, 3);
console.log('ok: openai chat completion');

// Streamed, with usage.
const stream = await client.chat.completions.create({
  model: 'fake-1', messages: msg('chunks:4'), stream: true, stream_options: { include_usage: true },
});
exchanges++;
let text = '';
let usage = null;
for await (const c of stream) {
  if (c.choices[0]?.delta?.content) text += c.choices[0].delta.content;
  if (c.usage) usage = c.usage;
}
assert.equal(text, 'w0 w1 w2 w3 ');
assert.equal(usage.completion_tokens, 4);
console.log('ok: openai streamed chat completion');

const models = await client.models.list();
exchanges++;
assert.ok(models.data.some((m) => m.id === 'fake-1'));
console.log('ok: openai models.list');

// Errors.
await expectError(OpenAI.NotFoundError, 404, 'unknown_url', () => client.post('/embeddings', { body: {} }));
await expectError(OpenAI.BadRequestError, 400, 'invalid_request', () => client.chat.completions.create({ messages: msg('x') }));
await expectError(OpenAI.APIError, 413, 'request_too_large', () =>
  client.chat.completions.create({ model: 'fake-1', messages: msg('x'.repeat(70000)) }));
await expectError(OpenAI.InternalServerError, 502, 'upstream_unreachable', () =>
  client.chat.completions.create({ model: 'dead-model', messages: msg('x') }));
await expectError(OpenAI.InternalServerError, 504, 'upstream_timeout', () =>
  client.chat.completions.create({ model: 'fake-1', messages: msg('hang') }));

// Upstream dies mid-stream: the iterator throws the gateway's error event.
{
  const s = await client.chat.completions.create({ model: 'fake-1', messages: msg('chunks:5 die:2'), stream: true });
  exchanges++;
  let got = '';
  let err = null;
  try {
    for await (const c of s) got += c.choices[0]?.delta?.content ?? '';
  } catch (e) {
    err = e;
  }
  assert.equal(got, 'w0 w1 ');
  assert.ok(err instanceof OpenAI.APIError, `want APIError, got ${err}`);
  assert.match(err.message, /upstream/);
  console.log('ok: openai stream ends with APIError when the upstream dies');
}

// The client aborts mid-stream: the upstream sees the cancel.
{
  const before = (await (await fetch(upstream + '/_stats')).json()).cancelled;
  const ac = new AbortController();
  const s = await client.chat.completions.create(
    { model: 'fake-1', messages: msg('chunks:200 delay:20'), stream: true }, { signal: ac.signal });
  exchanges++;
  let n = 0;
  try {
    for await (const c of s) {
      if (++n === 3) ac.abort();
    }
  } catch (e) {
    assert.ok(e instanceof OpenAI.APIUserAbortError || e.name === 'AbortError', `abort: ${e}`);
  }
  let after = before;
  for (let i = 0; i < 100 && after <= before; i++) {
    await new Promise((r) => setTimeout(r, 50));
    after = (await (await fetch(upstream + '/_stats')).json()).cancelled;
  }
  assert.ok(after > before, 'upstream never saw the cancel');
  console.log('ok: openai abort mid-stream cancels the upstream request');
}

console.log(`exchanges=${exchanges}`);
