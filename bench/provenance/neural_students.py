"""Neural students for the provenance proof: a small word-level causal transformer
(bench/provenance/neural/student.cc, libtorch, CPU) trained on the same training sets as the
trigram students (training_sets.py: the attacker's harvest at a share of watermarked answers,
clean answers, and the two adaptive attacks), sampled, and its text tested with
`distillguard verify --format json` (the attacker's key, and every one of 100 account keys with
Bonferroni correction).

Base model: like a real distiller, each student is fine-tuned from one base model, pre-trained
(NS_BASE_STEPS steps) on text that never passed through our API: the other teachers' answers
(Claude 3 Opus, Llama 3.1 405B, Claude 3.5 Sonnet, text-davinci-003 on AlpacaEval) and OpenAssistant
human answers. The base's vocabulary is the students' vocabulary. NS_BASE=0 trains every student
from scratch on its own vocabulary instead.

Tokens: "\\n", or an optional leading space followed by a run of letters, a run of digits or one
other character (so a word and the space before it are one token). Vocabulary: the NS_VOCAB - 2 most
frequent tokens of the base corpus, plus end-of-document (id 0) and unknown (id 1);
a token outside the vocabulary is trained as "unknown", and "unknown" is dropped from sampled text
(so the student never writes a word it has no token for). 2% of the documents are held out for the
validation loss. Sampling: temperature NS_TEMPERATURE (default 0.8), 128 streams in lock step.

Environment (defaults in brackets): DG_BIN, NS_BIN [build-neural/neural_student], DG_STRENGTH [0.5],
NS_VOCAB [8000], NS_D [128], NS_LAYERS [2], NS_HEADS [4], NS_CTX [64], NS_STEPS [300], NS_BATCH [16],
NS_GEN_TOKENS [150000], NS_THREADS [1], NS_GEN_BATCH [128], NS_TEMPERATURE [0.8], NS_STUDENTS (comma list of STUDENTS; default the seven of docs/countermeasures.md),
NS_OUT [$DG_PROV_WORK/neural-s<strength>.json], NS_BASE [1], NS_BASE_STEPS [900], NS_BASE_LR [3e-3],
NS_LR is the fine-tuning rate [1e-3], NS_DETECT_STRENGTH (verify's --detect-strength; default verify's 0.5;
1.0 scores every eligible position, as for a trace account), NS_SAVE_EVERY (also keep a checkpoint every this
many training steps; default 0 = none), NS_CHECKPOINT=S (do not train: sample and test each named student's
checkpoint at step S, reported as NAME@S -- for a run cut short)."""
import array
import collections
import json
import os
import random
import re
import subprocess
import sys
import time

import common
import harvest
import training_sets

NS_BIN = os.environ.get("NS_BIN", os.path.join(common.ROOT, "build-neural", "neural_student"))
STRENGTH = float(os.environ.get("DG_STRENGTH", "0.5"))
VOCAB = int(os.environ.get("NS_VOCAB", "8000"))
ARCH = dict(d=int(os.environ.get("NS_D", "128")), layers=int(os.environ.get("NS_LAYERS", "2")),
            heads=int(os.environ.get("NS_HEADS", "4")), ctx=int(os.environ.get("NS_CTX", "64")))
STEPS = int(os.environ.get("NS_STEPS", "300"))
BATCH = int(os.environ.get("NS_BATCH", "16"))
LR = float(os.environ.get("NS_LR", "1e-3"))
USE_BASE = os.environ.get("NS_BASE", "1") == "1"
BASE_STEPS = int(os.environ.get("NS_BASE_STEPS", "900"))
BASE_LR = float(os.environ.get("NS_BASE_LR", "3e-3"))
GEN_TOKENS = int(os.environ.get("NS_GEN_TOKENS", "150000"))
THREADS = os.environ.get("NS_THREADS", "1")  # under a loaded 2-core machine 1 thread was as fast
GEN_BATCH = os.environ.get("NS_GEN_BATCH", "128")
TEMPERATURE = os.environ.get("NS_TEMPERATURE", "0.8")
DETECT = os.environ.get("NS_DETECT_STRENGTH")
SAVE_EVERY = os.environ.get("NS_SAVE_EVERY", "0")
CHECKPOINT = os.environ.get("NS_CHECKPOINT")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # no OpenMP spinning on a shared machine
BUDGETS = [30_000, 100_000, 300_000]  # student words verified (as many as were generated)
SEED = 7
OUT = os.environ.get("NS_OUT", os.path.join(common.WORK, f"neural-s{STRENGTH}.json"))
W = os.path.join(common.WORK, "neural")
os.makedirs(W, exist_ok=True)

# name -> (share of watermarked answers, attack, training seed)
STUDENTS = {
    "wm100": (1.0, None, 1), "clean-seed1": (0.0, None, 1), "wm25": (0.25, None, 1),
    "wm10": (0.10, None, 1), "wm5": (0.05, None, 1), "wm100-rerandomise": (1.0, "rerandomise", 1),
    "wm100-mix": (1.0, "mix", 1), "clean-seed2": (0.0, None, 2), "wm25-mix": (0.25, "mix", 1),
    "wm25-rerandomise": (0.25, "rerandomise", 1), "wm100-both": (1.0, "both", 1),
    "wm100-long": (1.0, None, 1),  # the same as wm100; meant to be run with more NS_STEPS
}

TOKEN = re.compile(r"\n| ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]")
EOS, UNK = 0, 1


class Vocab:
    def __init__(self, texts, size):
        counts = collections.Counter(tok for t in texts for tok in TOKEN.findall(t))
        self.itos = ["<eos>", "<unk>"]
        seen = set(self.itos)
        for tok, _ in counts.most_common():
            if len(self.itos) >= size:
                break
            if tok not in seen:
                self.itos.append(tok)
                seen.add(tok)
        self.stoi = {t: i for i, t in enumerate(self.itos)}
        total = sum(counts.values())
        self.coverage = sum(c for t, c in counts.items() if t in self.stoi) / max(1, total)

    def encode(self, text):
        out = []
        for tok in TOKEN.findall(text):
            out.append(self.stoi.get(tok, UNK))
        return out

    def decode(self, ids):
        return "".join(self.itos[i] for i in ids if i > UNK)


def write_ids(path, docs_ids):
    a = array.array("i", [EOS])
    for d in docs_ids:
        a.extend(d)
        a.append(EOS)
    with open(path, "wb") as f:
        a.tofile(f)
    return len(a)


def read_docs(path, vocab):
    a = array.array("i")
    with open(path, "rb") as f:
        a.frombytes(f.read())
    docs, cur = [], []
    for i in a:
        if i == EOS:
            if cur:
                docs.append(vocab.decode(cur).strip())
            cur = []
        else:
            cur.append(i)
    return [d for d in docs if d]


def nice(args):
    return ["nice", "-n", "19"] + args


def train_student(name, texts, seed, vocab=None, init=None, steps=None, lr=None):
    d = os.path.join(W, name)
    os.makedirs(d, exist_ok=True)
    vocab = vocab or Vocab(texts, VOCAB)
    order = list(range(len(texts)))
    random.Random(seed).shuffle(order)
    n_valid = max(1, len(texts) // 50)
    valid = [vocab.encode(texts[i]) for i in order[:n_valid]]
    train = [vocab.encode(texts[i]) for i in order[n_valid:]]
    n_train = write_ids(os.path.join(d, "train.bin"), train)
    write_ids(os.path.join(d, "valid.bin"), valid)
    t0 = time.time()
    log = os.path.join(d, "train.log")
    with open(log, "w") as out:
        subprocess.run(nice([NS_BIN, "--threads", THREADS, "train", "--train", os.path.join(d, "train.bin"),
                             "--valid", os.path.join(d, "valid.bin"), "--vocab-size", str(len(vocab.itos)),
                             "--model", d, "--d", str(ARCH["d"]), "--layers", str(ARCH["layers"]),
                             "--heads", str(ARCH["heads"]), "--ctx", str(ARCH["ctx"]), "--steps", str(steps or STEPS),
                             "--batch", str(BATCH), "--lr", str(lr or LR), "--seed", str(seed),
                             "--save-every", SAVE_EVERY] + (["--init", init] if init else [])),
                       stdout=out, check=True)
    stdout = open(log).read()
    final = dict(kv for kv in zip(*[iter(stdout.splitlines()[-1].split()[1:])] * 2))
    params = int(stdout.split()[1])
    unk = sum(x == UNK for t in train for x in t) / max(1, sum(len(t) for t in train))
    return vocab, dict(params=params, train_tokens=n_train, vocab=len(vocab.itos), unk_share=round(unk, 4),
                       train_loss=float(final["train_loss"]), train_ppl=float(final["train_ppl"]),
                       valid_loss=float(final["valid_loss"]), valid_ppl=float(final["valid_ppl"]),
                       steps=int(final["steps"]), tokens_seen=int(final["tokens_seen"]),
                       train_seconds=round(time.time() - t0, 1))


def base_corpus():
    """Text that never passed through our API (see the module docstring)."""
    return [t for t in harvest.unseen_answers() if t.strip()]


def ensure_base():
    """Trains the base model once (reused while its settings are unchanged); returns (vocab, dir, info)."""
    d = os.path.join(W, "base")
    key = dict(arch=ARCH, vocab=VOCAB, steps=BASE_STEPS, lr=BASE_LR, batch=BATCH)
    texts = base_corpus()
    vocab = Vocab(texts, VOCAB)
    meta = os.path.join(d, "base.json")
    if os.path.exists(meta) and json.load(open(meta))["key"] == key:
        return vocab, d, json.load(open(meta))["info"]
    _, info = train_student("base", texts, 1, vocab=vocab, steps=BASE_STEPS, lr=BASE_LR)
    info["texts"] = len(texts)
    json.dump(dict(key=key, info=info), open(meta, "w"))
    return vocab, d, info


def checkpoint_info(name, step):
    """What the training log says about checkpoint `step` of a run (the loss EMA at that step)."""
    lines = open(os.path.join(W, name, "train.log")).read().splitlines()
    params = int(lines[0].split()[1])
    at = next(l.split() for l in lines if l.startswith(f"step {step} "))
    return dict(params=params, steps=step, tokens_seen=step * BATCH * ARCH["ctx"], train_loss_ema=float(at[5]),
                checkpoint_of=name)


def generate(name, vocab, seed, d=None):
    d = d or os.path.join(W, name)
    t0 = time.time()
    subprocess.run(nice([NS_BIN, "--threads", THREADS, "generate", "--model", d, "--tokens", str(GEN_TOKENS),
                         "--batch", GEN_BATCH, "--temperature", TEMPERATURE, "--seed", str(seed + 1000), "--out", os.path.join(d, "gen.bin")]),
                   capture_output=True, text=True, check=True)
    docs = read_docs(os.path.join(d, "gen.bin"), vocab)
    return docs, round(time.time() - t0, 1)


def run(name):
    share, attack, seed = STUDENTS[name]
    t0 = time.time()
    texts = H.texts(share, attack, SEED)
    model = os.path.join(W, name)
    if CHECKPOINT:
        vocab = BASE[0] if USE_BASE else Vocab(texts, VOCAB)
        info, model, label = checkpoint_info(name, int(CHECKPOINT)), os.path.join(model, f"step-{CHECKPOINT}"), f"{name}@{CHECKPOINT}"
    elif USE_BASE:
        vocab, info = train_student(name, texts, seed, vocab=BASE[0], init=BASE[1])
        label = name
    else:
        vocab, info = train_student(name, texts, seed)
        label = name
    docs, gen_seconds = generate(name, vocab, seed, model)
    info.update(gen_tokens=GEN_TOKENS, gen_words=sum(len(d.split()) for d in docs), gen_seconds=gen_seconds)
    cells = []
    for b in BUDGETS + [10**12]:
        acc, n = common.first_words(docs, b)
        if b > 10**11 and cells and n == cells[-1]["words"]:
            break
        path = os.path.join(W, f"{label}-{min(b, n)}.txt")
        with open(path, "w") as f:
            f.write("\n\n".join(acc))
        own = common.verify_files([path], account=common.ATTACKER, detect_strength=DETECT)[0]
        best = common.verify_files([path], detect_strength=DETECT)[0]
        cells.append(dict(words=n, positions=own["positions"], score=own["score"], p_attacker=own["p_value"],
                          attributed=best["account"], p_attribution=best["account_p_value"]))
        if n < b:
            break
    info["cells"] = cells
    loss = (f"loss {info['train_loss']:.2f}/{info['valid_loss']:.2f} (ppl {info['valid_ppl']:.0f})" if "valid_loss" in info
            else f"train loss (EMA) {info['train_loss_ema']:.2f}")
    print(f"{label:20s} {loss} "
          f"[{info.get('train_seconds', 0):.0f}s+{gen_seconds:.0f}s] " + " | ".join(
              f"{c['words']//1000}k: pos {c['positions']} p={c['p_attacker']:.2g} -> {c['attributed'] or 'none'} "
              f"({c['p_attribution']:.2g})" for c in cells) + f"  [{time.time()-t0:.0f}s]", flush=True)
    return label, info


if __name__ == "__main__":
    default = "wm100,clean-seed1,wm100-rerandomise,wm100-mix,wm25,wm10,wm5"
    names = [n for n in os.environ.get("NS_STUDENTS", default).split(",") if n]
    H = training_sets.Harvest(STRENGTH)
    print(f"harvest: {len(H.ours)} answers; {H.stats}; strength {STRENGTH}; arch {ARCH}, vocab {VOCAB}, "
          f"steps {STEPS} x batch {BATCH}, {GEN_TOKENS} tokens sampled at temperature {TEMPERATURE}", flush=True)
    BASE = ensure_base() if USE_BASE else None
    if BASE:
        print("base model:", json.dumps(BASE[2]), flush=True)
    results = json.load(open(OUT))["results"] if os.path.exists(OUT) and os.environ.get("NS_APPEND") else {}
    for name in names:
        label, results[label] = run(name)
        json.dump(dict(strength=STRENGTH, detect_strength=float(DETECT or 0.5), temperature=float(TEMPERATURE), arch=ARCH, base=BASE and BASE[2], vocab=VOCAB, steps=STEPS, batch=BATCH, lr=LR,
                       gen_tokens=GEN_TOKENS, results=results), open(OUT, "w"), indent=1)
