"""Serves a word-trigram student over an OpenAI-compatible /v1/chat/completions (non-streamed),
like the replay upstream does for recorded answers. The student is trained on what the attacker
account harvested (common.attacker_harvest(): $HARVEST, else our harvest under `trace`).
Usage: python3 student_server.py [PORT]   (0 = any free port; the port is printed on stdout)"""
import random
import sys

import common
import ngram

lm = ngram.TrigramLM().train([r["response"] for r in common.attacker_harvest()])
rng = random.Random(5)
common.serve_student(lambda max_tokens: lm.sample_doc(rng, max_tokens=max_tokens),
                     int(sys.argv[1]) if len(sys.argv) > 1 else 0)
