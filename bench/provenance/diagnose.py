"""Why is a student attributed or not? Green rates at the watermark's own positions.

For a student (neural_students.py's text in $DG_PROV_WORK/neural/, or a trigram student sampled
here) and the training set it learned from (training_sets.py, same seed), every watermark position
is listed with the product's scanner and hash (neural/wm_positions, built by neural_students.sh):
(context, group) -> member written, the attacker key's green member, selection draw u.
Positions are split by how often their (context, group) pair occurs in the training set -- the
watermark is a per-pair preference, so a student can only have learned it for pairs it saw -- and
by group kind (word, phrase, contraction). For each split: occurrences in the student's text
and the share written green (selected positions only, u < detect strength), the same for
distinct pairs as `verify` scores them (first occurrence), and the training set's own green
share. Chance is the mean 1/k.

Harvest-aware scoring (an analysis, not verify): `verify`'s test restricted to the scored pairs that
occur >= M times in what the account received (M = 5, 20): the selection uses only (context, group)
identities, never the member the suspect text wrote, so H0 (each scored pair green w.p. 1/k) holds;
p is the exact Poisson-binomial tail.

Coarser contexts (an analysis, not the scheme): if the green member depended on the group and a
bucket of the previous word (crc32 mod B; B=1 is context-free) instead of the word itself, how many
distinct (bucket, group) pairs would the training set and the student's text hold, and how often
would a pair of the student's text have been seen in training -- the numbers behind "would a
shorter context make the mark learnable" in docs/countermeasures.md.

Usage: python3 diagnose.py NAME [NAME...]   (NAME: a neural student directory in
$DG_PROV_WORK/neural, e.g. wm100, or wm100@1200 for a checkpoint's text; or trigram:wm100 to sample a trigram student of that training
set here, as many words as the neural one wrote). Environment: DG_STRENGTH (the harvest's, default
0.5), DG_DETECT_STRENGTH (default min(0.5, strength)), NS_BUILD (where wm_positions is),
DIAG_OUT (JSON, default $DG_PROV_WORK/diagnose-s<strength>.json)."""
import collections
import glob
import json
import os
import re
import subprocess
import sys
import zlib

import common
import neural_students as ns
import ngram
import training_sets

STRENGTH = float(os.environ.get("DG_STRENGTH", "0.5"))
DETECT = float(os.environ.get("DG_DETECT_STRENGTH", min(0.5, STRENGTH)))
TOOL = os.path.join(os.environ.get("NS_BUILD", os.path.join(common.ROOT, "build-neural")), "wm_positions")
OUT = os.environ.get("DIAG_OUT", os.path.join(common.WORK, f"diagnose-s{STRENGTH}.json"))
BUCKETS = [(0, 0), (1, 1), (2, 4), (5, 19), (20, 99), (100, 10**9)]


def positions(texts):
    """Every occurrence in texts (each scanned as its own text): (doc, context, group, member, k, green, u)."""
    p = subprocess.run([TOOL, "--master-key-file", common.MASTER, "--account", common.ATTACKER],
                       input="\0".join(texts).encode(), capture_output=True, check=True)
    out = []
    for line in p.stdout.decode().splitlines():
        doc, ctx, g, m, k, green, u = line.split("\t")
        out.append((int(doc), ctx, int(g), int(m), int(k), int(green), float(u)))
    return out


def kinds():
    out = []
    for g in training_sets._groups():
        out.append("contraction" if any("'" in m for m in g) else "phrase" if any(" " in m for m in g) else "word")
    return out


def rate(rows):
    n = len(rows)
    return dict(n=n, green=sum(r[3] == r[5] for r in rows) / n if n else None,
                chance=sum(1 / r[4] for r in rows) / n if n else None)


def analyse(student_rows, train_rows):
    kind = kinds()
    train_count = collections.Counter((r[1], r[2]) for r in train_rows)
    train_sel = [r for r in train_rows if r[6] < DETECT]
    sel = [r for r in student_rows if r[6] < DETECT]
    seen, scored = set(), []
    for r in sel:
        if (r[1], r[2]) not in seen:
            seen.add((r[1], r[2]))
            scored.append(r)
    res = dict(all=dict(student=rate(sel), scored=rate(scored), train=rate(train_sel)), by_train_count={}, by_kind={})
    for lo, hi in BUCKETS:
        f = lambda r: lo <= train_count[(r[1], r[2])] <= hi
        res["by_train_count"][f"{lo}-{hi}" if hi < 10**9 else f"{lo}+"] = dict(
            student=rate([r for r in sel if f(r)]), scored=rate([r for r in scored if f(r)]),
            train=rate([r for r in train_sel if f(r)]))
    for kd in ("word", "phrase", "contraction"):
        f = lambda r: kind[r[2]] == kd
        res["by_kind"][kd] = dict(student=rate([r for r in sel if f(r)]), scored=rate([r for r in scored if f(r)]),
                                  train=rate([r for r in train_sel if f(r)]))
    return res


def upper_tail(ps, x):
    """P(X >= x), X a sum of independent Bernoulli(p) for p in ps (exact)."""
    dist = [1.0]
    for p in ps:
        dist = [a * (1 - p) + b * p for a, b in zip(dist + [0.0], [0.0] + dist)]
    return sum(dist[x:])


def harvest_aware(student_rows, train_rows):
    tc = collections.Counter((r[1], r[2]) for r in train_rows)
    seen, out = set(), {}
    scored = []
    for r in student_rows:
        if r[6] < DETECT and (r[1], r[2]) not in seen:
            seen.add((r[1], r[2]))
            scored.append(r)
    for m in (5, 20):
        rows = [r for r in scored if tc[(r[1], r[2])] >= m]
        green = sum(r[3] == r[5] for r in rows)
        out[str(m)] = dict(positions=len(rows), green=green, p=upper_tail([1 / r[4] for r in rows], green))
    return out


def coarse(student_rows, train_rows):
    """Per bucket count B: distinct pairs in training and in the student's selected positions, and the
    share of the student's selected occurrences whose pair occurs >= 20 / >= 100 times in training."""
    out = {}
    for b in (1, 16, 256, None):
        key = (lambda r: (r[1], r[2])) if b is None else (lambda r, b=b: (zlib.crc32(r[1].encode()) % b, r[2]))
        tc = collections.Counter(key(r) for r in train_rows)
        sel = [r for r in student_rows if r[6] < DETECT]
        n = max(1, len(sel))
        out["word" if b is None else str(b)] = dict(
            train_pairs=len(tc), student_pairs=len({key(r) for r in sel}),
            seen20=sum(tc[key(r)] >= 20 for r in sel) / n, seen100=sum(tc[key(r)] >= 100 for r in sel) / n)
    return out


def student_text(name):
    """The longest text file neural_students.py wrote for this student (all it sampled)."""
    files = glob.glob(os.path.join(ns.W, f"{name}-*.txt"))
    if not files:
        sys.exit(f"no student text for {name} in {ns.W}: run neural_students.py first")
    best = max(files, key=lambda p: int(re.search(r"-(\d+)\.txt$", p).group(1)))
    return open(best).read()


def main():
    H = training_sets.Harvest(STRENGTH)
    results = json.load(open(OUT)) if os.path.exists(OUT) else {}
    for name in sys.argv[1:]:
        trigram = name.startswith("trigram:")
        base = name.split(":", 1)[-1]
        share, attack, seed = ns.STUDENTS[base.split("@")[0]]  # NAME@STEP: a checkpoint's text
        texts = H.texts(share, attack, ns.SEED)
        if trigram:
            words = len(student_text(base).split()) if glob.glob(os.path.join(ns.W, f"{base}-*.txt")) else 50_000
            lm = ngram.TrigramLM().train(texts)
            docs, _ = lm.generate(words, seed=seed + 1000)
            text = "\n\n".join(docs)
        else:
            text = student_text(base)
        srows, trows = positions([text]), positions(texts)
        res = analyse(srows, trows)
        res["coarse"] = coarse(srows, trows)
        res["harvest_aware"] = harvest_aware(srows, trows)
        res.update(words=len(text.split()), strength=STRENGTH, detect_strength=DETECT)
        results[name] = res
        a = res["all"]
        print(f"{name}: {res['words']} words; selected occurrences {a['student']['n']} green {a['student']['green']:.3f} "
              f"(chance {a['student']['chance']:.3f}); scored {a['scored']['n']} green {a['scored']['green']:.3f}; "
              f"training set {a['train']['n']} green {a['train']['green']:.3f}", flush=True)
        for title, part in (("pair seen in training", "by_train_count"), ("group kind", "by_kind")):
            print(f"| {title} | student occurrences: green / chance | scored (distinct) pairs: green | training occurrences: green |")
            print("|---|---|---|---|")
            for b, v in res[part].items():
                s, sc, t = v["student"], v["scored"], v["train"]
                fmt = lambda x: "–" if x["green"] is None else f"{x['n']}: {x['green']:.0%}"
                print(f"| {b} | {fmt(s)} / {'–' if s['chance'] is None else format(s['chance'], '.0%')} | {fmt(sc)} | {fmt(t)} |")
        print("| context | distinct pairs in training | distinct pairs in student text | student occurrences whose pair was seen >= 20 / >= 100 times |")
        print("|---|---|---|---|")
        for b, v in res["coarse"].items():
            label = "previous word (the scheme)" if b == "word" else "none" if b == "1" else f"{b} buckets of the previous word"
            print(f"| {label} | {v['train_pairs']} | {v['student_pairs']} | {v['seen20']:.0%} / {v['seen100']:.0%} |")
        print("harvest-aware scoring: " + "; ".join(f"pairs received >= {m} times: {v['green']}/{v['positions']} green, "
                                                    f"p = {v['p']:.2g}" for m, v in res["harvest_aware"].items()))
        json.dump(results, open(OUT, "w"), indent=1)


if __name__ == "__main__":
    main()
