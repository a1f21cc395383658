"""Markdown table of the student experiments (students-s*.json written by run_students.py)."""
import json
import os
import sys

import common

rows = ["wm100", "wm25", "wm10", "wm5", "clean-seed1", "clean-seed2", "clean-seed3",
        "wm100-rerandomise", "wm100-mix", "wm100-both", "wm25-rerandomise", "wm25-mix", "wm25-both"]
labels = {"wm100": "100% marked", "wm25": "25% marked", "wm10": "10% marked", "wm5": "5% marked",
          "clean-seed1": "clean (seed 1)", "clean-seed2": "clean (seed 2)", "clean-seed3": "clean (seed 3)",
          "wm100-rerandomise": "100% + re-randomise half", "wm100-mix": "100% + other teacher mixed in",
          "wm100-both": "100% + both attacks", "wm25-rerandomise": "25% + re-randomise half",
          "wm25-mix": "25% + other teacher mixed in", "wm25-both": "25% + both attacks"}
for strength in ("0.5", "1.0"):
    path = os.path.join(common.WORK, f"students-s{strength}.json")
    if not os.path.exists(path):
        continue
    res = json.load(open(path))["results"]
    budgets = [r["tokens"] for r in res["wm100"]]
    print(f"\nWatermark strength {strength} (scored at detect-strength 0.5). Student words generated → "
          "attacker-key p-value / account named (corrected p):\n")
    print("| training harvest | " + " | ".join(f"{b//1000}k words" for b in budgets) + " |")
    print("|---|" + "---|" * len(budgets))
    for name in rows:
        if name not in res:
            continue
        cells = []
        for r in res[name]:
            who = r["attributed"] or "none"
            cells.append(f"{r['p_attacker']:.1g} / **{who}** ({r['p_attribution']:.1g})" if r["attributed"]
                         else f"{r['p_attacker']:.1g} / none ({r['p_attribution']:.1g})")
        print(f"| {labels[name]} | " + " | ".join(cells) + " |")
