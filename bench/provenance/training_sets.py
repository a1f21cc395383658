"""What a student is trained on: the attacker's harvest at a share of watermarked answers, and
the two adaptive attacks. Shared by the trigram students (run_students.py) and the neural
students (neural_students.py), so both train on exactly the same texts for a given seed.

Harvest: our teacher's real answers (harvest.ours(), 2,932 answers, ~778k words), watermarked
for the attacker's account with `distillguard watermark` (the library the gateway's policy stage
applies per response). A share s of the answers is watermarked (chosen with the seed), the rest
clean. Attacks: (a) "rerandomise": for each occurrence of a synonym-table member (word, phrase or
contraction), with prob. 0.5 replace it by a uniformly random member of its group (the attacker
knows our table); (b) "mix": add another
teacher's answers to the same prompts (Claude 3 Opus + Llama 3.1 405B, 1,610 answers, ~0.6x our
words); "both" = (a) then (b)."""
import os
import random
import re

import common
import harvest

SYNONYMS = os.path.join(common.ROOT, "data/synonyms/synonyms.tsv")


def _groups():
    return [l.rstrip("\n").split("\t") for l in open(SYNONYMS) if l.strip() and not l.startswith("#")]


_table = None


def rerandomise(text, rng, share=0.5):
    """Each occurrence of a table member (word, two-word phrase or contraction, as listed in
    synonyms.tsv) is, with probability `share`, replaced by a uniformly random member of its group
    (a capital first letter is kept)."""
    global _table
    if _table is None:
        w2g = {w: g for g in _groups() for w in g}
        alts = sorted(w2g, key=len, reverse=True)
        pat = re.compile(r"(?<![A-Za-z'’])(" + "|".join(re.escape(w).replace("'", "['’]") for w in alts) +
                         r")(?![A-Za-z'’])", re.IGNORECASE)
        _table = (w2g, pat)
    w2g, pat = _table

    def sub(m):
        w = m.group(0)
        g = w2g.get(w.lower().replace("’", "'"))
        if g is None or rng.random() >= share:
            return w
        r = rng.choice(g)
        return r[0].upper() + r[1:] if w[0].isupper() else r
    return pat.sub(sub, text)


class Harvest:
    """Our teacher's answers, clean and as the attacker received them at `strength`."""

    def __init__(self, strength, account=common.ATTACKER):
        self.ours = harvest.ours()
        self.marked, self.stats = common.watermark(self.ours, account, strength)
        self._other = None

    def other(self):
        if self._other is None:
            self._other = [r["response"] for r in harvest.other()]
        return self._other

    def texts(self, share, attack=None, seed=7):
        rng = random.Random(seed)
        n = len(self.ours)
        idx = set(rng.sample(range(n), int(round(share * n))))
        texts = [self.marked[i]["response"] if i in idx else self.ours[i]["response"] for i in range(n)]
        if attack in ("rerandomise", "both"):
            texts = [rerandomise(t, rng) for t in texts]
        if attack in ("mix", "both"):
            texts += self.other()
        return texts
