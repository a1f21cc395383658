"""Calibration of `verify` on real unwatermarked texts: under H0 p-values must be (super-)uniform,
so at p < 0.01 at most ~1% of texts may be flagged. Tests one account's key (--account) on each
text, and on documents made by concatenating 5 and 20 texts (more scored positions)."""
import json
import random
import sys

import common
import harvest

texts = harvest.clean_texts()
rng = random.Random(1)
rng.shuffle(texts)
rows = {}
for group in (1, 5, 20):
    docs = ["\n\n".join(texts[i:i + group]) for i in range(0, len(texts), group)]
    res = common.verify_texts(docs, f"calib-{group}", account="acct-7")
    n = len(res)
    pos = sorted(r["positions"] for r in res)
    flagged = {a: sum(r["p_value"] < a for r in res) / n for a in (0.001, 0.01, 0.05, 0.1)}
    # attribution among all 100 keys (Bonferroni): how often is some account named?
    named = sum(r["account"] is not None for r in res) / n
    rows[group] = dict(docs=n, median_positions=pos[n // 2], mean_positions=sum(pos) / n, flagged=flagged, named=named)
    print(f"texts/doc={group:2d} docs={n:5d} positions median={pos[n//2]} mean={sum(pos)/n:.1f}  "
          + "  ".join(f"p<{a}: {100*v:.2f}%" for a, v in flagged.items()) + f"  named(100 keys, alpha 1e-3): {100*named:.2f}%")
json.dump(rows, open(common.WORK + "/calibration.json", "w"), indent=1)
