"""A word n-gram student: trigram Markov model over whitespace runs (punctuation stays
attached, newlines are tokens), trained on harvested responses, sampled with backoff
(trigram -> bigram -> unigram). Deterministic for a given seed. Standard library only."""
import collections
import itertools
import random
import re

TOKEN = re.compile(r"\n|[^\s]+")
BOS = "<s>"
EOS = "</s>"


def tokenize(text):
    return TOKEN.findall(text)


class TrigramLM:
    def __init__(self):
        self.tri = collections.defaultdict(collections.Counter)
        self.bi = collections.defaultdict(collections.Counter)
        self.uni = collections.Counter()

    def train(self, texts):
        for t in texts:
            toks = [BOS, BOS] + tokenize(t) + [EOS]
            for i in range(2, len(toks)):
                self.tri[(toks[i - 2], toks[i - 1])][toks[i]] += 1
                self.bi[toks[i - 1]][toks[i]] += 1
                self.uni[toks[i]] += 1
        # Frozen sampling tables.
        def table(c):
            return (list(c.keys()), list(itertools.accumulate(c.values())))
        self._tri = {k: table(c) for k, c in self.tri.items()}
        self._bi = {k: table(c) for k, c in self.bi.items()}
        self._uni = table(self.uni)
        return self

    def sample_doc(self, rng, max_tokens=400, start=None):
        a, b = BOS, BOS
        out = []
        if start:
            for w in start:
                out.append(w)
                a, b = b, w
        for _ in range(max_tokens):
            table = self._tri.get((a, b)) or self._bi.get(b) or self._uni
            w = rng.choices(table[0], cum_weights=table[1])[0]
            if w == EOS:
                break
            out.append(w)
            a, b = b, w
        text = ""
        for w in out:
            if w == "\n":
                text = text.rstrip(" ") + "\n"
            else:
                text += w + " "
        return text.strip()

    def generate(self, n_tokens, seed):
        rng = random.Random(seed)
        docs, total = [], 0
        while total < n_tokens:
            d = self.sample_doc(rng)
            docs.append(d)
            total += len(d.split())
        return docs, total
