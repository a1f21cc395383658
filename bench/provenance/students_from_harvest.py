"""Trigram students on what accounts received through the gateway (gateway_campaign.sh):
acct-42 (pinned to a rung) vs customer (allow). verify against 100 account keys."""
import json
import os
import sys

import common
import ngram

W = os.path.join(common.WORK, "campaign")
for acct in ("acct-42", "customer"):
    texts = [json.loads(l)["response"] for l in open(os.path.join(W, f"harvest-{acct}.jsonl"))]
    lm = ngram.TrigramLM().train(texts)
    docs, _ = lm.generate(1_000_000, seed=11)
    cells = []
    for budget in (100_000, 300_000, 1_000_000):
        acc, n = common.first_words(docs, budget)
        path = os.path.join(W, f"student-{acct}-{budget}.txt")
        open(path, "w").write("\n\n".join(acc))
        own = common.verify_files([path], account="acct-42")[0]
        best = common.verify_files([path])[0]
        cells.append(f"{n//1000}k words: positions {own['positions']}, acct-42 p={own['p_value']:.2g}, "
                     f"named {best['account'] or 'none'} ({best['account_p_value']:.2g})")
    print(f"student of {acct}: " + " | ".join(cells), flush=True)
