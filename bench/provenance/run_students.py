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
import random
import re
import sys
import time

import common
import harvest
import ngram

STRENGTH = float(os.environ.get("DG_STRENGTH", "0.5"))
BUDGETS = [30_000, 100_000, 300_000, 1_000_000]
SEED = 7

groups = [l.rstrip("\n").split("\t") for l in open(os.path.join(common.ROOT, "data/synonyms/synonyms.tsv")) if not l.startswith("#")]
w2g = {w: g for g in groups for w in g}


def rerandomise(text, rng, share=0.5):
    def sub(m):
        w = m.group(0)
        g = w2g.get(w.lower())
        if g is None or rng.random() >= share:
            return w
        r = rng.choice(g)
        return r.capitalize() if w[0].isupper() else r
    return re.sub(r"[A-Za-z]+", sub, text)


ours = harvest.ours()
marked, stats = common.watermark(ours, common.ATTACKER, STRENGTH)
print("harvest:", len(ours), "answers;", stats, flush=True)


def student_texts(share, attack=None, seed=SEED):
    rng = random.Random(seed)
    idx = set(rng.sample(range(len(ours)), int(round(share * len(ours)))))
    texts = [marked[i]["response"] if i in idx else ours[i]["response"] for i in range(len(ours))]
    if attack in ("rerandomise", "both"):
        texts = [rerandomise(t, rng) for t in texts]
    if attack in ("mix", "both"):
        texts += [r["response"] for r in harvest.other()]
    return texts


def run(name, share, attack=None, seed=SEED):
    t0 = time.time()
    lm = ngram.TrigramLM().train(student_texts(share, attack, seed))
    docs, total = lm.generate(BUDGETS[-1], seed=seed + 1000)
    res = []
    for b in BUDGETS:
        acc, n = [], 0
        for d in docs:
            if n >= b:
                break
            acc.append(d)
            n += len(d.split())
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
