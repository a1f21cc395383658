"""Serves a word-trigram student over an OpenAI-compatible /v1/chat/completions (non-streamed),
like the replay upstream does for recorded answers. The student is trained on what the attacker
account harvested under `trace`: canaries planted + watermark (strength 1.0), via
`distillguard watermark --trace` (the trace rung's transforms, applied offline).
Usage: python3 student_server.py [PORT]   (0 = any free port; the port is printed on stdout)"""
import json
import random
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import common
import harvest
import ngram

import os
if os.environ.get("HARVEST"):  # e.g. what an account received through the gateway (gateway_campaign.sh)
    harvested = [json.loads(l) for l in open(os.environ["HARVEST"])]
else:
    harvested, stats = common.watermark(harvest.ours(), common.ATTACKER, 1.0, trace=True)
    print("trace harvest:", stats, file=sys.stderr, flush=True)
lm = ngram.TrigramLM().train([r["response"] for r in harvested])
lock = threading.Lock()
rng = random.Random(5)


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_POST(self):
        n = int(self.headers.get("content-length", 0))
        req = json.loads(self.rfile.read(n) or b"{}")
        with lock:
            text = lm.sample_doc(rng, max_tokens=int(req.get("max_tokens", 400)))
        body = json.dumps({"id": "x", "object": "chat.completion", "model": req.get("model", "student"),
                           "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                        "finish_reason": "stop"}]}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


srv = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 0), Handler)
print(srv.server_address[1], flush=True)
srv.serve_forever()
