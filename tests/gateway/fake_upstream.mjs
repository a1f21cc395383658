// A fault-injecting OpenAI-compatible upstream for the gateway's integration
// tests. Behaviour is chosen per request by directives in the last message's
// content (or the prompt), words of the form:
//   chunks:N      stream N content chunks (default 5)
//   delay:MS      wait MS between streamed chunks (default 0)
//   slow:MS       wait MS before the response head (slow first byte)
//   hang          never answer (until the client goes away)
//   die:N         stream N chunks, then destroy the socket (upstream killed)
//   usage         always send the final usage chunk (otherwise only with
//                 stream_options.include_usage, as OpenAI does)
//   status:CODE   answer with this HTTP status and an OpenAI error body
// Prints "listening on 127.0.0.1:PORT". GET /_stats returns counters:
// {"requests","completed","cancelled","sockets_closed"} where cancelled counts
// requests whose client (the gateway) closed the connection before the
// response ended. Env: PORT, KEEPALIVE_MS, TLS_CERT/TLS_KEY.
import http from 'node:http';
import https from 'node:https';
import fs from 'node:fs';

const stats = { requests: 0, completed: 0, cancelled: 0, sockets_closed: 0, last_headers: null };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function directives(body) {
  let text = '';
  if (Array.isArray(body.messages) && body.messages.length) {
    const c = body.messages[body.messages.length - 1].content;
    text = typeof c === 'string' ? c : JSON.stringify(c);
  } else if (typeof body.prompt === 'string') {
    text = body.prompt;
  }
  const d = { chunks: 5, delay: 0, slow: 0, hang: false, die: -1, usage: false, status: 200 };
  for (const w of text.split(/\s+/)) {
    const [k, v] = w.split(':');
    if (k === 'chunks') d.chunks = +v;
    else if (k === 'delay') d.delay = +v;
    else if (k === 'slow') d.slow = +v;
    else if (k === 'hang') d.hang = true;
    else if (k === 'die') d.die = +v;
    else if (k === 'usage') d.usage = true;
    else if (k === 'status') d.status = +v;
  }
  return d;
}

// TLS when TLS_CERT and TLS_KEY name PEM files.
const handler = async (req, res) => {
  if (req.url === '/_stats') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(stats));
    return;
  }
  let raw = '';
  for await (const chunk of req) raw += chunk;
  stats.requests++;
  stats.last_headers = req.headers;
  let finished = false;
  res.on('close', () => {
    if (!finished) stats.cancelled++;
  });
  const done = () => {
    finished = true;
    stats.completed++;
  };
  if (req.url === '/v1/models') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ object: 'list', data: [{ id: 'fake-1', object: 'model', created: 0, owned_by: 'fake' }] }));
    done();
    return;
  }
  let body;
  try {
    body = JSON.parse(raw);
  } catch {
    res.writeHead(400, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { message: 'bad json', type: 'invalid_request_error', code: null } }));
    done();
    return;
  }
  const d = directives(body);
  const chat = req.url.endsWith('/chat/completions');
  if (d.hang) return;  // never answer; 'close' counts the cancel
  if (d.slow) await sleep(d.slow);
  if (res.destroyed) return;
  if (d.status !== 200) {
    res.writeHead(d.status, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { message: 'fake upstream error', type: 'server_error', code: 'fake' } }));
    done();
    return;
  }
  const id = 'chatcmpl-fake' + stats.requests;
  const model = body.model || 'fake-1';
  const words = Array.from({ length: d.chunks }, (_, i) => `w${i} `);
  const promptTokens = 11;
  if (!body.stream) {
    const text = words.join('');
    const choice = chat
      ? { index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }
      : { index: 0, text, finish_reason: 'stop' };
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({
      id, object: chat ? 'chat.completion' : 'text_completion', created: 1700000000, model,
      choices: [choice], usage: { prompt_tokens: promptTokens, completion_tokens: d.chunks, total_tokens: promptTokens + d.chunks },
    }));
    done();
    return;
  }
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  const send = (o) => res.write('data: ' + JSON.stringify(o) + '\n\n');
  const chunk = (delta, finish) => ({
    id, object: chat ? 'chat.completion.chunk' : 'text_completion', created: 1700000000, model,
    choices: [chat ? { index: 0, delta, finish_reason: finish } : { index: 0, text: delta.content || '', finish_reason: finish }],
  });
  if (chat) send(chunk({ role: 'assistant', content: '' }, null));
  // Flush what was written, then kill the connection without ending the body.
  const die = async () => {
    await new Promise((r) => res.write('', r));
    await sleep(20);
    res.socket.destroy();
  };
  for (let i = 0; i < words.length; i++) {
    if (d.die === i) {
      await die();
      return;
    }
    if (i > 0 && d.delay) await sleep(d.delay);
    if (res.destroyed) return;
    send(chunk({ content: words[i] }, null));
  }
  if (d.die >= words.length) {
    await die();
    return;
  }
  send(chunk({}, 'stop'));
  if (d.usage || (body.stream_options && body.stream_options.include_usage)) {
    send({ id, object: 'chat.completion.chunk', created: 1700000000, model, choices: [],
           usage: { prompt_tokens: promptTokens, completion_tokens: d.chunks, total_tokens: promptTokens + d.chunks } });
  }
  res.write('data: [DONE]\n\n');
  res.end();
  done();
};

const server = process.env.TLS_CERT
  ? https.createServer({ cert: fs.readFileSync(process.env.TLS_CERT), key: fs.readFileSync(process.env.TLS_KEY) }, handler)
  : http.createServer(handler);
// KEEPALIVE_MS: close idle keep-alive connections after this long (default 60 s).
server.keepAliveTimeout = +(process.env.KEEPALIVE_MS || 60000);
server.on('connection', (sock) => sock.on('close', () => stats.sockets_closed++));
server.listen(+(process.env.PORT || 0), '127.0.0.1', () => {
  console.log(`listening on 127.0.0.1:${server.address().port}`);
});
