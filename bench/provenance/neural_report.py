"""Markdown tables of the neural-student experiments (neural-s*.json written by neural_students.py,
or the files named on the command line)."""
import glob
import json
import os
import sys

import common

labels = {"wm100": "100% marked", "wm25": "25% marked", "wm10": "10% marked", "wm5": "5% marked",
          "clean-seed1": "clean (seed 1)", "clean-seed2": "clean (seed 2)",
          "wm100-rerandomise": "100% + re-randomise half", "wm100-mix": "100% + other teacher mixed in",
          "wm100-both": "100% + both attacks", "wm25-rerandomise": "25% + re-randomise half",
          "wm25-mix": "25% + other teacher mixed in"}
paths = sys.argv[1:] or sorted(glob.glob(os.path.join(common.WORK, "neural-s*.json")))
for path in paths:
    d = json.load(open(path))
    res = d["results"]
    a = d["arch"]
    print(f"\n`{os.path.basename(path)}`: watermark strength {d['strength']}; transformer d={a['d']}, "
          f"{a['layers']} layers, {a['heads']} heads, context {a['ctx']}, vocabulary {d['vocab']}; "
          f"{d['steps']} steps x {d['batch']} windows; {d['gen_tokens']:,} tokens sampled "
          f"(temperature {d.get('temperature', 1.0)}).\n")
    if d.get("base"):
        b = d["base"]
        print(f"Base model (pre-trained once on {b.get('texts', '?')} texts that never passed through our API, "
              f"{b['train_tokens']/1e6:.2f}M tokens): {b['steps']} steps, {b['tokens_seen']/1e6:.2f}M tokens seen, "
              f"train / valid loss {b['train_loss']:.2f} / {b['valid_loss']:.2f} (valid perplexity {b['valid_ppl']:.0f}), "
              f"{b['train_seconds']:.0f} s. Every student below is fine-tuned from it ({d['steps']} steps, lr {d['lr']}).\n")
    print("| training set | params | train tokens | tokens seen | train / valid loss (valid ppl) | train s | sample s | words sampled |")
    print("|---|---|---|---|---|---|---|---|")
    for name, r in res.items():
        print(f"| {labels.get(name, name)} | {r['params']/1e6:.2f}M | {r['train_tokens']/1e6:.2f}M | "
              f"{r['tokens_seen']/1e6:.2f}M | {r['train_loss']:.2f} / {r['valid_loss']:.2f} ({r['valid_ppl']:.0f}) | "
              f"{r['train_seconds']:.0f} | {r['gen_seconds']:.0f} | {r['gen_words']:,} |")
    print("\nStudent words → scored positions, attacker-key p-value / account named among 100 keys "
          "(Bonferroni-corrected p):\n")
    ncol = max(len(r["cells"]) for r in res.values())
    print("| training set | " + " | ".join([f"first {b // 1000}k words" for b in (30_000, 100_000, 300_000)][:ncol - 1] +
                                          ["all sampled"]) + " |")
    print("|---|" + "---|" * ncol)
    for name, r in res.items():
        cells = []
        for c in r["cells"]:
            who = f"**{c['attributed']}**" if c["attributed"] else "none"
            cells.append(f"{c['words']//1000}k: {c['positions']} pos, p={c['p_attacker']:.1g} / {who} "
                         f"({c['p_attribution']:.1g})")
        cells += [""] * (ncol - len(cells))
        print(f"| {labels.get(name, name)} | " + " | ".join(cells) + " |")
