import json
import os
import subprocess
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
