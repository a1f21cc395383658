import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DG_BIN = os.environ.get("DG_BIN", os.path.join(ROOT, "build-def", "src", "cli", "distillguard"))
WORK = os.environ.get("DG_PROV_WORK", os.path.join(tempfile.gettempdir(), "dg-provenance"))
os.makedirs(WORK, exist_ok=True)
MASTER = os.path.join(WORK, "master.key")
ACCOUNTS = os.path.join(WORK, "accounts.txt")
N_ACCOUNTS = 100
ATTACKER = "acct-42"

if not os.path.exists(MASTER):
    with open(MASTER, "w") as f:
        f.write("provenance-experiment-master-key\n")
with open(ACCOUNTS, "w") as f:
    for i in range(1, N_ACCOUNTS + 1):
        f.write(f"acct-{i}\n")


def first_words(docs, budget):
    """Whole documents from the start of `docs` until at least `budget` words: (docs, words)."""
    acc, n = [], 0
    for d in docs:
        if n >= budget:
            break
        acc.append(d)
        n += len(d.split())
    return acc, n


def watermark(records, account, strength, trace=False):
    """Runs `distillguard watermark` (the same library the gateway stage applies) on records."""
    inp = "\n".join(json.dumps(r) for r in records) + "\n"
    args = [DG_BIN, "watermark", "--master-key-file", MASTER, "--account", account, "--strength", str(strength)]
    if trace:
        args.append("--trace")
    p = subprocess.run(args, input=inp, capture_output=True, text=True, check=True)
    out = [json.loads(l) for l in p.stdout.splitlines() if l.strip()]
    return out, p.stderr.strip()


def verify_files(paths, account=None, detect_strength=None):
    args = [DG_BIN, "verify", "--master-key-file", MASTER, "--accounts", ACCOUNTS, "--format", "json"]
    if account:
        args += ["--account", account]
    if detect_strength:
        args += ["--detect-strength", str(detect_strength)]
    p = subprocess.run(args + list(paths), capture_output=True, text=True, check=True)
    return [json.loads(l) for l in p.stdout.splitlines()]


def verify_texts(texts, tag, account=None):
    d = os.path.join(WORK, tag)
    os.makedirs(d, exist_ok=True)
    paths = []
    for i, t in enumerate(texts):
        p = os.path.join(d, f"{i}.txt")
        with open(p, "w") as f:
            f.write(t)
        paths.append(p)
    out = []
    for i in range(0, len(paths), 2000):
        out += verify_files(paths[i:i + 2000], account)
    return out


def attacker_harvest():
    """What the attacker's account received: the file named by $HARVEST (e.g. what an account got
    through the gateway, gateway_campaign.sh), else our harvest under `trace` (canaries planted,
    watermark strength 1.0, via `distillguard watermark --trace`). Records with a "response"."""
    if os.environ.get("HARVEST"):
        return [json.loads(l) for l in open(os.environ["HARVEST"])]
    import harvest
    harvested, stats = watermark(harvest.ours(), ATTACKER, 1.0, trace=True)
    print("trace harvest:", stats, file=sys.stderr, flush=True)
    return harvested


def serve_student(generate, port):
    """Serves `generate(max_tokens) -> text` as an OpenAI-compatible /v1/chat/completions
    (non-streamed; the prompt is ignored: students are unconditional language models of the
    harvested answers), one request at a time. Prints the port on stdout; runs until killed."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_POST(self):
            n = int(self.headers.get("content-length", 0))
            req = json.loads(self.rfile.read(n) or b"{}")
            with lock:
                text = generate(int(req.get("max_tokens", 400)))
            body = json.dumps({"id": "x", "object": "chat.completion", "model": req.get("model", "student"),
                               "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                            "finish_reason": "stop"}]}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    srv = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print(srv.server_address[1], flush=True)
    srv.serve_forever()
