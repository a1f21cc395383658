"""What the watermark costs and needs, on real teacher answers (harvest.ours(), 2,932 answers):
words changed per answer at each strength, and how many words of watermarked answers `verify`
needs for p < 1e-6 (answers concatenated in a fixed random order; median over 20 orders).

Words changed: the original and the marked answer are split on whitespace and aligned word by
word (difflib, longest matching blocks); a word of the original counts as changed when the
alignment does not keep it unchanged. So a synonym swap changes one word, "for example" ->
"for instance" one, an expansion ("don't" -> "do not") one, a contraction ("do not" -> "don't")
two; adjacent swaps count each original word once. Positions changed is the library's own count (one per swap, whatever its length)."""
import difflib
import json
import os
import random
import re

import common
import harvest


def words_changed(original, marked):
    """Words of `original` the word alignment does not keep (a pure insertion counts its words)."""
    a, b = original.split(), marked.split()
    if a == b:
        return 0
    ops = difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    return sum(i2 - i1 if i2 > i1 else j2 - j1 for tag, i1, i2, j1, j2 in ops if tag != "equal")


assert words_changed("I do not know", "I don't know") == 2
assert words_changed("It's fine, for example here", "It is fine, for instance here") == 2
assert words_changed("often seen", "frequently seen") == 1

ours = harvest.ours()
words = [len(r["response"].split()) for r in ours]
out = {}
for strength in (0.1, 0.25, 0.5, 1.0):
    marked, stats = common.watermark(ours, "acct-42", strength)
    changed = sum(words_changed(a["response"], b["response"]) for a, b in zip(ours, marked))
    positions = int(re.search(r"(\d+) words changed", stats).group(1))  # the CLI's count is per position
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
                         positions_changed_per_answer=positions / len(ours),
                         changed_per_1000_words=1000 * changed / sum(words), words_for_p1e6_median=med,
                         runs_reaching=len(got))
    print(f"strength {strength}: {changed/len(ours):.3f} words changed per answer "
          f"({positions/len(ours):.3f} positions) "
          f"({1000*changed/sum(words):.2f} per 1000 words; {100*touched/len(ours):.1f}% of answers touched); "
          f"words of watermarked answers for p<1e-6: median {med} ({len(got)}/20 orders reached it)", flush=True)
json.dump(out, open(os.path.join(common.WORK, "cost.json"), "w"), indent=1)
