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

import common
import neural_students as ns

texts = [r["response"] for r in common.attacker_harvest()]
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


def generate(max_tokens):
    child.stdin.write(f"{max_tokens}\n")
    child.stdin.flush()
    return vocab.decode([int(x) for x in child.stdout.readline().split()]).strip()


try:
    common.serve_student(generate, int(sys.argv[1]) if len(sys.argv) > 1 else 0)
finally:
    child.kill()
