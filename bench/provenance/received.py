"""Harvest-aware verify (`distillguard verify --received`) on student texts, and its calibration.

  python3 received.py students TEXT...   each student text (neural_students.py's output, a trigram
                                        sample, ...) named NAME-WORDS.txt, NAME one of the shares
                                        below: plain verify and verify --received at each min-count,
                                        on the first 30k / 100k words and on all of it
  python3 received.py calibration [K]   H0: unwatermarked real texts (harvest.clean_texts(): every
                                        model answer we have plus human texts, 20 to a document) and
                                        clean-student texts, each under K (default 100) account keys,
                                        --received = the attacker's full harvest

What the account received (--received, JSONL {"response": ...}): the answers of our harvest that
were watermarked for the attacker (acct-42, strength 1.0, training_sets.Harvest) -- for a student at
share s only the s-share the account got from us (the same answers training_sets.py marked); a clean
student is tested against the full harvest (the provider suspects the account; the student learned
from clean copies of the same answers: the hardest null). Student NAME -> share: a name starting
(or with a "-" part starting) "wm100" 1.0, "wm25" 0.25, "wm10" 0.1, "wm5" 0.05, "clean" 0.0.

min-count 20 is verify's default, fixed before the texts below were sampled; 1 and 5 are shown to
see the trade-off (choosing among them after the fact would need a x3 correction).
Results: JSON to $DG_PROV_WORK/received-<mode>.json, markdown rows on stdout.
Environment: DG_BIN (the distillguard binary), DG_PROV_WORK."""
import json
import os
import random
import re
import subprocess
import sys

import common
import harvest
import training_sets

MIN_COUNTS = (1, 5, 20)
BUDGETS = (30_000, 100_000, 10**12)
SHARES = (("wm100", 1.0), ("wm25", 0.25), ("wm10", 0.10), ("wm5", 0.05), ("clean", 0.0))


def share_of(name):
    return next(s for key, s in SHARES if re.search(rf"(^|-){key}", name))


def received_file(H, share):
    """The answers the attacker's account received from us for a student at this share (JSONL)."""
    n = len(H.ours)
    if share == 0.0:
        idx = range(n)
    else:  # the indices training_sets.Harvest.texts(share, seed=7) marked
        idx = sorted(random.Random(7).sample(range(n), int(round(share * n))))
    path = os.path.join(common.WORK, f"received-{share}.jsonl")
    with open(path, "w") as f:
        for i in idx:
            f.write(json.dumps({"response": H.marked[i]["response"]}) + "\n")
    return path, len(idx)


def verify(paths, received=None, min_count=None, account=None, accounts=common.ACCOUNTS):
    args = [common.DG_BIN, "verify", "--master-key-file", common.MASTER, "--accounts", accounts, "--format", "json",
            "--detect-strength", "1.0"]
    if received:
        args += ["--received", received, "--min-count", str(min_count)]
    if account:
        args += ["--account", account]
    out = subprocess.run(args + list(paths), capture_output=True, text=True, check=True).stdout
    return [json.loads(l) for l in out.splitlines()]


def prefix(path, words):
    """The first `words` words of a student text (whole documents), as a file; None if shorter."""
    docs = open(path).read().split("\n\n")
    acc, n = common.first_words(docs, words)
    d = os.path.join(common.WORK, "received-prefixes")
    os.makedirs(d, exist_ok=True)
    out = os.path.join(d, f"{os.path.basename(path)[:-4]}.first{words}.txt")
    with open(out, "w") as f:
        f.write("\n\n".join(acc))
    return out, n


def students(paths):
    H = training_sets.Harvest(1.0)
    results = {}
    print("| student text | words | received answers | plain: positions, p (acct-42) -> named (corrected p) | "
          + " | ".join(f"--received, min-count {m}" for m in MIN_COUNTS) + " |")
    print("|---|---|---|---|" + "---|" * len(MIN_COUNTS))
    for path in paths:
        name = re.sub(r"-\d+\.txt$", "", os.path.basename(path))
        share = share_of(name)
        received, n_received = received_file(H, share)
        total = len(open(path).read().split())
        for b in BUDGETS:
            if b < 10**12 and b >= total:
                continue
            f, words = (path, total) if b >= 10**12 else prefix(path, b)
            row = dict(words=words, received_answers=n_received)
            cells = []
            for m in (None,) + MIN_COUNTS:
                own = verify([f], received if m else None, m, account=common.ATTACKER)[0]
                best = verify([f], received if m else None, m)[0]
                row[f"m{m or 0}"] = dict(positions=own["positions"], score=own["score"], p_attacker=own["p_value"],
                                         named=best["account"], p_attribution=best["account_p_value"])
                cells.append(f"{own['positions']}, p={own['p_value']:.2g} -> {best['account'] or 'none'} "
                             f"({best['account_p_value']:.2g})")
            results.setdefault(name, []).append(row)
            print(f"| {name} | {words:,} | {n_received} | " + " | ".join(cells) + " |", flush=True)
    out = os.path.join(common.WORK, "received-students.json")
    old = json.load(open(out)) if os.path.exists(out) else {}
    old.update(results)
    json.dump(old, open(out, "w"), indent=1)


def calibration(keys, student_texts):
    H = training_sets.Harvest(1.0)
    received, _ = received_file(H, 0.0)
    texts = harvest.clean_texts()
    random.Random(1).shuffle(texts)
    d = os.path.join(common.WORK, "calib-received")
    os.makedirs(d, exist_ok=True)
    docs = []
    for i in range(0, len(texts), 20):
        p = os.path.join(d, f"{i // 20}.txt")
        with open(p, "w") as f:
            f.write("\n\n".join(texts[i:i + 20]))
        docs.append(p)
    accts = os.path.join(common.WORK, "calib-accounts.txt")
    with open(accts, "w") as f:
        f.write("".join(f"calib-{i}\n" for i in range(keys)))
    rows = {}
    for label, files in (("real texts, 20 per document", docs), ("clean-student texts", student_texts)):
        if not files:
            continue
        for m in MIN_COUNTS:
            res = []
            for i in range(keys):
                for j in range(0, len(files), 2000):
                    res += verify(files[j:j + 2000], received, m, account=f"calib-{i}", accounts=accts)
            n = len(res)
            flagged = {a: sum(r["p_value"] < a for r in res) / n for a in (0.001, 0.01, 0.05, 0.1)}
            mean_pos = sum(r["positions"] for r in res) / n
            rows[f"{label}, min-count {m}"] = dict(tests=n, mean_positions=mean_pos, flagged=flagged)
            print(f"| {label} | {m} | {len(files)} x {keys} keys = {n} | {mean_pos:.1f} | "
                  + " | ".join(f"{100 * v:.2f}%" for v in flagged.values()) + " |", flush=True)
    json.dump(rows, open(os.path.join(common.WORK, "received-calibration.json"), "w"), indent=1)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "students":
        students(sys.argv[2:])
    elif len(sys.argv) > 1 and sys.argv[1] == "calibration":
        k = int(sys.argv[2]) if len(sys.argv) > 2 and sys.argv[2].isdigit() else 100
        calibration(k, [a for a in sys.argv[2:] if not a.isdigit()])
    else:
        sys.exit(__doc__)
