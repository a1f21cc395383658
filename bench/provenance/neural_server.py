"""Serves a neural student (neural/student.cc) over an OpenAI-compatible /v1/chat/completions
(non-streamed), like student_server.py does for the trigram student. The student is trained on what
the attacker account harvested under `trace` (canaries planted + watermark strength 1.0, via
`distillguard watermark --trace`), or on the harvest file named by $HARVEST (e.g. what an account
received through the gateway, gateway_campaign.sh). Training takes minutes; the port is printed on
stdout once the model is ready. Each request samples a fresh document from the model (one
`neural_student serve` child, ids decoded here); like the trigram server, the prompt is ignored
(the student is an unconditional language model of the harvested answers).
Usage: python3 neural_server.py [PORT]   (0 = any free port; NS_PROBE_STEPS training steps)"""
import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import common
import harvest
import neural_students as ns

if os.environ.get("HARVEST"):
    texts = [json.loads(l)["response"] for l in open(os.environ["HARVEST"])]
else:
    harvested, stats = common.watermark(harvest.ours(), common.ATTACKER, 1.0, trace=True)
    texts = [r["response"] for r in harvested]
    print("trace harvest:", stats, file=sys.stderr, flush=True)
# From scratch on the harvest's own vocabulary, not fine-tuned from the base: the canary signatures
# are coined words, absent from the base vocabulary, so a base-vocabulary student could never write
# them (a subword tokenizer could; this word-level one cannot).
vocab, info = ns.train_student("probe-student", texts, 1, steps=int(os.environ.get("NS_PROBE_STEPS", ns.STEPS)),
                               lr=ns.BASE_LR)
print("neural student:", json.dumps(info), file=sys.stderr, flush=True)
child = subprocess.Popen(ns.nice([ns.NS_BIN, "--threads", ns.THREADS, "serve", "--model",
                                  os.path.join(ns.W, "probe-student"), "--seed", "5",
                                  "--temperature", ns.TEMPERATURE]),
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_POST(self):
        n = int(self.headers.get("content-length", 0))
        req = json.loads(self.rfile.read(n) or b"{}")
        with lock:
            child.stdin.write(f"{int(req.get('max_tokens', 400))}\n")
            child.stdin.flush()
            ids = [int(x) for x in child.stdout.readline().split()]
        text = vocab.decode(ids).strip()
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
try:
    srv.serve_forever()
finally:
    child.kill()
