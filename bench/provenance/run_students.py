"""Proof experiment: students trained on what an attacker harvested, then `verify` on their output.

Harvest: our teacher's real answers (harvest.ours(), 2,932 answers, ~778k words). The attacker's
account is acct-42; the watermark is applied with `distillguard watermark` (the same library the
gateway's policy stage applies per response) at strength 0.5 (the throttle/degrade default) --
not through a live gateway. A share s of the harvest is watermarked (the rest clean), a word
trigram student is trained on it and generates text; `verify` tests that text against 100
account keys (Bonferroni) and reports the attacker's own p-value.
Attacks: (a) re-randomise synonyms: for each table word in the harvest, with prob. 0.5 replace it
by a uniformly random member of its group (attacker knows our table); (b) mix in another teacher's
answers to the same prompts (Claude 3 Opus + Llama 3.1 405B, 1,610 answers, ~0.6x our words)."""
import json
import os
import sys
import time

import common
import ngram
import training_sets

STRENGTH = float(os.environ.get("DG_STRENGTH", "0.5"))
BUDGETS = [30_000, 100_000, 300_000, 1_000_000]
SEED = 7

H = training_sets.Harvest(STRENGTH)
print("harvest:", len(H.ours), "answers;", H.stats, flush=True)


def student_texts(share, attack=None, seed=SEED):
    return H.texts(share, attack, seed)


def run(name, share, attack=None, seed=SEED):
    t0 = time.time()
    lm = ngram.TrigramLM().train(student_texts(share, attack, seed))
    docs, total = lm.generate(BUDGETS[-1], seed=seed + 1000)
    res = []
    for b in BUDGETS:
        acc, n = common.first_words(docs, b)
        path = os.path.join(common.WORK, f"student-{name}-{b}.txt")
        with open(path, "w") as f:
            f.write("\n\n".join(acc))
        own = common.verify_files([path], account=common.ATTACKER)[0]
        best = common.verify_files([path])[0]
        res.append(dict(tokens=n, positions=own["positions"], score=own["score"], p_attacker=own["p_value"],
                        attributed=best["account"], p_attribution=best["account_p_value"]))
    print(f"{name:28s} " + " | ".join(
        f"{r['tokens']//1000}k: pos {r['positions']} p={r['p_attacker']:.2g} -> {r['attributed'] or 'none'} ({r['p_attribution']:.2g})"
        for r in res) + f"  [{time.time()-t0:.0f}s]", flush=True)
    return res


results = {}
for share in (1.0, 0.25, 0.10, 0.05):
    results[f"wm{int(share*100)}"] = run(f"wm{int(share*100)}", share)
for seed in (1, 2, 3):
    results[f"clean-seed{seed}"] = run(f"clean-seed{seed}", 0.0, seed=seed)
for share in (1.0, 0.25):
    for attack in ("rerandomise", "mix", "both"):
        results[f"wm{int(share*100)}-{attack}"] = run(f"wm{int(share*100)}-{attack}", share, attack)
json.dump(dict(strength=STRENGTH, results=results), open(os.path.join(common.WORK, f"students-s{STRENGTH}.json"), "w"), indent=1)
