#!/usr/bin/env python3
"""Fits the risk weights (src/engine/risk.cc kSignals, kBias) by logistic
regression on signal snapshots of TUNING scenarios only.

  DG_ENGINE_DUMP_SIGNALS=/tmp/x.sig.tsv distillguard analyze --input TRACE ...
  python3 src/engine/tools/fit_weights.py DIR scenario1 scenario2 ...

reads DIR/<scenario>.sig.tsv (snapshots of every account and cluster at 5, 10,
20, 50, ... exchanges) and DIR/<scenario>.labels.jsonl. Each (scenario, group,
account-or-cluster) gets equal total weight, legitimate groups twice that (a
false positive costs more than a late detection); attack snapshots before 10
exchanges are left out (no detector can be expected to know yet). Weights are
sign-constrained: every signal raises risk except fixed_system_prompt, which may
only lower it; signals fitted to ~0 stay 0. Pure Python, deterministic.
"""
import collections, json, math, random, sys

NAMES = ["capability_coverage", "distinct_prompts", "wide_harvest", "cot_elicitation", "rubric_grading",
         "logprob_harvest", "multi_sample", "deterministic_sampling", "single_turn", "no_system_prompt",
         "fixed_system_prompt", "round_the_clock", "regular_timing", "templated_prompts", "benchmark_items",
         "linked_accounts", "bare_wide_prompts", "bare_wide_volume", "rotating_addresses", "fixed_prompt_template",
         "context_free_breadth", "context_free_volume", "rotating_wrappers", "split_source"]
NEG = {"fixed_system_prompt", "fixed_prompt_template"}
# Signals kept out of the score (explanations only): timing is under the
# attacker's control and a batch job is regular too.
ZERO = {"regular_timing", "round_the_clock"}
# Weights pinned by hand (name=value,...), e.g. a floor a unit test requires.
import os
FIXED = {k: float(v) for k, v in (x.split("=") for x in os.environ.get("DG_FIT_FIXED", "").split(",") if x)}

d, scen = sys.argv[1], sys.argv[2:]
rows = []
for s in scen:
    lab = {}
    for l in open(f"{d}/{s}.labels.jsonl"):
        o = json.loads(l)
        lab[o["account"]] = o
    for l in open(f"{d}/{s}.sig.tsv"):
        p = l.rstrip("\n").split("\t")
        o = lab[p[0]]
        y = 1 if o["label"] == "attack" else 0
        n = int(p[2])
        if y == 1 and n < 10:
            continue
        g = (s, o["persona"] if y == 0 else o["campaign"], p[1])
        rows.append((g, y, [float(x) for x in p[4:]]))
count = collections.Counter(g for g, _, _ in rows)
data = [(x, y, (2.0 if y == 0 else 1.0) / count[g]) for g, y, x in rows]
k = len(NAMES)
w = [0.0] * k
b = -3.0
rng = random.Random(1)
lr, l2 = 0.5, 1e-3
tw = sum(sw for _, _, sw in data)
for epoch in range(300):
    gw = [0.0] * k
    gb = 0.0
    for x, y, sw in data:
        z = b + sum(wi * xi for wi, xi in zip(w, x))
        p = 1 / (1 + math.exp(-max(-30, min(30, z))))
        e = (p - y) * sw
        gb += e
        for i in range(k):
            gw[i] += e * x[i]
    b -= lr * gb / tw * 10
    for i in range(k):
        w[i] -= lr * (gw[i] / tw * 10 + l2 * w[i])
        if NAMES[i] in FIXED:
            w[i] = FIXED[NAMES[i]]
        elif NAMES[i] in ZERO:
            w[i] = 0.0
        elif NAMES[i] in NEG:
            w[i] = min(0.0, w[i])
        else:
            w[i] = max(0.0, w[i])
print("bias %.2f" % b)
for n_, wi in zip(NAMES, w):
    print("    {\"%s\", %.2f}," % (n_, wi))
# Per-group mean score at the last snapshot of each account.
by = collections.defaultdict(list)
for (g, y, x) in rows:
    z = b + sum(wi * xi for wi, xi in zip(w, x))
    by[g[1] + ("/cluster" if g[2] == "1" else "")].append(1 / (1 + math.exp(-z)))
for g in sorted(by):
    v = sorted(by[g])
    print("%-32s n=%5d  p10 %.2f  median %.2f  p90 %.2f" % (g, len(v), v[len(v) // 10], v[len(v) // 2], v[9 * len(v) // 10]))
