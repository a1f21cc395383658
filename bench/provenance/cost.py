"""What the watermark costs and needs, on real teacher answers (harvest.ours(), 2,932 answers):
words changed per answer at each strength, and how many words of watermarked answers `verify`
needs for p < 1e-6 (answers concatenated in a fixed random order; median over 20 orders)."""
import json
import os
import random

import common
import harvest

ours = harvest.ours()
words = [len(r["response"].split()) for r in ours]
out = {}
for strength in (0.1, 0.25, 0.5, 1.0):
    marked, stats = common.watermark(ours, "acct-42", strength)
    changed = sum(1 for a, b in zip(ours, marked) for x, y in zip(a["response"].split(), b["response"].split()) if x != y)
    touched = sum(1 for a, b in zip(ours, marked) if a["response"] != b["response"])
    # words needed for p < 1e-6 with the attacker's key, detect strength = min(0.5, strength) ...
    need = []
    for order_seed in range(20):
        rng = random.Random(order_seed)
        order = list(range(len(ours)))
        rng.shuffle(order)
        # grow by doubling, then bisect on the number of answers
        lo, hi = 0, 1
        def p_of(n):
            path = os.path.join(common.WORK, f"cost-{strength}-{order_seed}.txt")
            with open(path, "w") as f:
                f.write("\n\n".join(marked[i]["response"] for i in order[:n]))
            return common.verify_files([path], account="acct-42", detect_strength=min(0.5, strength))[0]["p_value"]
        while hi < len(order) and p_of(hi) >= 1e-6:
            lo, hi = hi, min(hi * 2, len(order))
        if p_of(hi) >= 1e-6:
            need.append(None)
            continue
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if p_of(mid) < 1e-6:
                hi = mid
            else:
                lo = mid
        need.append(sum(words[i] for i in order[:hi]))
    got = sorted(n for n in need if n is not None)
    med = got[len(got) // 2] if got else None
    out[strength] = dict(changed_per_answer=changed / len(ours), answers_touched=touched / len(ours),
                         changed_per_1000_words=1000 * changed / sum(words), words_for_p1e6_median=med,
                         runs_reaching=len(got))
    print(f"strength {strength}: {changed/len(ours):.3f} words changed per answer "
          f"({1000*changed/sum(words):.2f} per 1000 words; {100*touched/len(ours):.1f}% of answers touched); "
          f"words of watermarked answers for p<1e-6: median {med} ({len(got)}/20 orders reached it)", flush=True)
json.dump(out, open(os.path.join(common.WORK, "cost.json"), "w"), indent=1)
