"""The watermark on real texts (reads ../shared/datasets through harvest.py).

  python3 bench/provenance/calibrate.py [calibration [K]]  calibration of `verify` on real unwatermarked texts
                                                          (K keys per document, pooled; default 1)
  python3 bench/provenance/calibrate.py capacity        eligible positions and words changed per 1,000 words
  python3 bench/provenance/calibrate.py samples [N]     N (default 30) random swaps in context, as markdown

calibration: under H0 p-values must be (super-)uniform, so at p < 0.01 at most ~1% of texts may be
flagged. Tests one account's key (--account) on each text, and on documents made by concatenating 5
and 20 texts (more scored positions).
capacity: on our teacher's 2,932 real answers (harvest.ours()): eligible positions (every table form
outside protected spans, repeats included) per 1,000 words, words changed per answer and per 1,000
words at each strength, and distinct positions `verify` scores per answer.
samples: what the watermark changes at strength 1.0, with 6 words of context each side.
Set DG_BIN to the distillguard binary (default build-def/src/cli/distillguard)."""
import json
import random
import sys

import common
import harvest


def calibration(keys=1):
    """keys > 1: every document is tested with each of acct-7 .. acct-(6+keys), pooled."""
    texts = harvest.clean_texts()
    rng = random.Random(1)
    rng.shuffle(texts)
    rows = {}
    for group in (1, 5, 20):
        docs = ["\n\n".join(texts[i:i + group]) for i in range(0, len(texts), group)]
        res = []
        for k in range(keys):
            res += common.verify_texts(docs, f"calib-{group}", account=f"acct-{7 + k}")
        n = len(res)
        pos = sorted(r["positions"] for r in res)
        flagged = {a: sum(r["p_value"] < a for r in res) / n for a in (0.001, 0.01, 0.05, 0.1)}
        # attribution among all 100 keys (Bonferroni): how often is some account named?
        named = sum(r["account"] is not None for r in res) / n
        rows[group] = dict(docs=n, median_positions=pos[n // 2], mean_positions=sum(pos) / n, flagged=flagged, named=named)
        print(f"texts/doc={group:2d} tests={n:5d} (keys {keys}) positions median={pos[n//2]} mean={sum(pos)/n:.1f}  "
              + "  ".join(f"p<{a}: {100*v:.2f}%" for a, v in flagged.items())
              + f"  named(100 keys, alpha 1e-3): {100*named:.2f}%", flush=True)
    json.dump(rows, open(common.WORK + "/calibration.json", "w"), indent=1)


def capacity():
    ours = harvest.ours()
    words = sum(len(r["response"].split()) for r in ours)
    print(f"{len(ours)} answers, {words} words")
    for strength in (0.1, 0.25, 0.5, 1.0):
        marked, stats = common.watermark(ours, "acct-42", strength)
        # "watermark: N texts, E eligible positions, C words changed (...)"
        parts = stats.split()
        eligible, changed = int(parts[3]), int(parts[6])
        touched = sum(1 for a, b in zip(ours, marked) if a["response"] != b["response"])
        print(f"strength {strength}: eligible {1000 * eligible / words:.2f} per 1000 words "
              f"({eligible / len(ours):.2f} per answer); changed {changed / len(ours):.2f} per answer, "
              f"{1000 * changed / words:.2f} per 1000 words; answers touched {100 * touched / len(ours):.1f}%", flush=True)
    for ds in (0.5, 1.0):
        res = []
        texts = [r["response"] for r in ours]
        d = common.WORK + f"/capacity-{ds}"
        import os
        os.makedirs(d, exist_ok=True)
        paths = []
        for i, t in enumerate(texts):
            p = f"{d}/{i}.txt"
            with open(p, "w") as f:
                f.write(t)
            paths.append(p)
        for i in range(0, len(paths), 2000):
            res += common.verify_files(paths[i:i + 2000], account="acct-42", detect_strength=ds)
        pos = sorted(r["positions"] for r in res)
        print(f"verify scores (detect strength {ds}): mean {sum(pos)/len(pos):.2f} distinct positions per answer, "
              f"median {pos[len(pos)//2]}, {1000 * sum(pos) / words:.2f} per 1000 words", flush=True)


def samples(n):
    import difflib
    ours = harvest.ours()
    marked, _ = common.watermark(ours, "acct-42", 1.0)
    swaps = []
    for a, b in zip(ours, marked):
        x, y = a["response"].split(), b["response"].split()
        sm = difflib.SequenceMatcher(a=x, b=y, autojunk=False)
        for op, i1, i2, j1, j2 in sm.get_opcodes():
            if op == "equal":
                continue
            if op != "replace":  # a contraction merged or split two runs: show the word before too
                i1, j1 = i1 - 1, j1 - 1
            swaps.append((" ".join(x[max(0, i1 - 6):i1]), " ".join(x[i1:i2]), " ".join(y[j1:j2]),
                          " ".join(x[i2:i2 + 6])))
    rng = random.Random(5)
    print(f"{len(swaps)} swaps in {len(ours)} answers at strength 1.0; {n} at random (seed 5):\n")
    print("| # | before | original → watermarked | after |\n|---|---|---|---|")
    for k, (b, o, w, a) in enumerate(rng.sample(swaps, n), 1):
        esc = lambda s: s.replace("|", "\\|").replace("`", "'")
        print(f"| {k} | …{esc(b)} | **{esc(o)}** → **{esc(w)}** | {esc(a)}… |")


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else "calibration"
    if mode == "calibration":
        calibration(int(sys.argv[2]) if len(sys.argv) > 2 else 1)
    elif mode == "capacity":
        capacity()
    elif mode == "samples":
        samples(int(sys.argv[2]) if len(sys.argv) > 2 else 30)
    else:
        sys.exit(__doc__)
