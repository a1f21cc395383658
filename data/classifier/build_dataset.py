#!/usr/bin/env python3
"""Builds data/classifier/prompts.tsv (label <TAB> source <TAB> text) from the real
prompt sets in ../shared/datasets (permissive licences only; see SOURCES.md here).

Labels come from the dataset's own categories where it has them (mt_bench, vicuna,
gsm8k=math, mbpp/HumanEval=code, Bitext=conversation, awesome-chatgpt-prompts "act as"
=conversation) and from transparent keyword rules (weak labels, `weak_label` below)
for sources without categories (arena-hard, self-instruct, oasst, hh-rlhf). Deterministic.

usage: python3 data/classifier/build_dataset.py [DATASETS_DIR] > data/classifier/prompts.tsv
"""
import csv, gzip, json, random, re, sys
csv.field_size_limit(1 << 24)

D = sys.argv[1] if len(sys.argv) > 1 else "/work/shared/datasets"
rng = random.Random(7)
MAXLEN = 800
out = []

def add(label, source, text):
    text = re.sub(r"\s+", " ", text or "").strip()
    if len(text) < 3:
        return
    out.append((label, source, text[:MAXLEN]))

LANGS = r"(french|spanish|german|italian|portuguese|chinese|japanese|korean|russian|arabic|hindi|dutch|polish|turkish|swedish|english|vietnamese|indonesian|greek|hebrew)"
RULES = [
    ("tool_use", r"\b(you have access to (the following )?tools|function[_ ]call|call the (api|tool)|tool[_ ]calls?|available tools|json schema for the tool|agent that can use)\b"),
    ("translation", r"\b(translat\w*|in " + LANGS + r"\b.*\?$|from " + LANGS + r" to " + LANGS + r")"),
    ("summarization", r"\b(summari[sz]\w*|tl;?dr|key points of|condense|abstract of)\b"),
    ("extraction", r"\b(extract\w*|parse .* into|list (all|every) (the )?(names|dates|entities|numbers)|identify (all|the) (entities|named)|named entit|fill (in )?the (table|json)|in json format)\b"),
    ("code", r"(```|\bdef |\bclass \w+|#include|\bpython\b|javascript|typescript|\bc\+\+|\bjava\b|\bsql\b|\brust\b|golang|\bregex|\bfunction\b|\bscript\b|\bbug\b|compile|\bapi\b|\bhtml\b|\bcss\b|react|django|pandas|numpy|\bbash\b|linux|docker|kubernetes)"),
    ("math", r"(\bsolve\b|equation|integral|derivative|probability|\bcalculate|\bcompute|\bmatrix|theorem|\bprove\b|\d+\s*[-+*/^=]\s*\d+|\bsum of\b|how many .* (are|were|will|does|did)|percent|\bmath)"),
    ("science", r"\b(physics|chemistry|chemical|biology|biological|molecul\w*|protein|cell|dna|quantum|atom\w*|electron|photosynth\w*|evolution|gene\w*|enzyme|climate|thermodynamic\w*|astronom\w*|planet|virus|bacteri\w*|organic|reaction|medical|disease)\b"),
    ("writing", r"\b(write|compose|draft|rewrite|paraphrase|poem|story|essay|email|letter|blog|article|slogan|lyrics|tweet|cover letter|speech)\b"),
    ("reasoning", r"\b(riddle|puzzle|logic\w*|deduce|reasoning|if .* then|which of the following|true or false|counterfactual|what would happen|pros and cons|compare|trade-?offs?)\b"),
    ("factual_qa", r"^(what|who|when|where|which|why|how|is|are|does|do|can|did)\b"),
]

def weak_label(text, default):
    t = text.lower()
    for label, pat in RULES:
        if re.search(pat, t):
            return label
    return default

# --- category-labelled sources
MT = {"writing": "writing", "roleplay": "conversation", "reasoning": "reasoning", "math": "math",
      "coding": "code", "extraction": "extraction", "stem": "science", "humanities": "factual_qa"}
for line in open(f"{D}/legit/mt_bench_question.jsonl"):
    q = json.loads(line)
    add(MT[q["category"]], "mt_bench", q["turns"][0])
VI = {"generic": "conversation", "knowledge": "factual_qa", "roleplay": "conversation",
      "common-sense": "reasoning", "fermi": "reasoning", "counterfactual": "reasoning",
      "writing": "writing", "coding": "code", "math": "math"}
for line in open(f"{D}/legit/vicuna_bench_question.jsonl"):
    q = json.loads(line)
    add(VI[q["category"]], "vicuna", q["turns"][0])
gsm = [json.loads(l)["question"] for l in open(f"{D}/attack/gsm8k_train.jsonl")]
rng.shuffle(gsm)
for q in gsm[:1200]:
    add("math", "gsm8k", q)
for line in open(f"{D}/attack/mbpp.jsonl"):
    add("code", "mbpp", json.loads(line)["text"])
with gzip.open(f"{D}/attack/HumanEval.jsonl.gz", "rt") as f:
    for line in f:
        add("code", "humaneval", json.loads(line)["prompt"])
rows = list(csv.DictReader(open(f"{D}/legit/Bitext_Sample_Customer_Support_Training_Dataset.csv", newline="")))
rng.shuffle(rows)
for r in rows[:1000]:
    add("conversation", "bitext", r["instruction"])
for r in csv.DictReader(open(f"{D}/legit/awesome-chatgpt-prompts_prompts.csv", newline="")):
    if r.get("type") != "TEXT":
        continue
    p = r["prompt"]
    if re.search(r"\b(act as|you are|pretend|role)\b", p[:200].lower()):
        add(weak_label(p, "conversation") if r.get("for_devs") == "TRUE" else "conversation", "awesome", p)
    else:
        add(weak_label(p, "other"), "awesome", p)

# --- weakly labelled sources (keyword rules above)
for line in open(f"{D}/legit/arena-hard-v0.1_question.jsonl"):
    q = json.loads(line)
    add(weak_label(q["prompt"], "other"), "arena_hard", q["prompt"])
for line in open(f"{D}/legit/self-instruct_user_oriented_instructions.jsonl"):
    q = json.loads(line)
    inst = q["instances"][0]["input"] if q["instances"] else ""
    text = q["instruction"] + ("\n" + inst if inst else "")
    add(weak_label(q["instruction"], "other"), "self_instruct", text)
for line in open(f"{D}/attack/self-instruct_seed_tasks.jsonl"):
    q = json.loads(line)
    add(weak_label(q["instruction"], "other"), "self_instruct_seed", q["instruction"])
for line in open(f"{D}/legit/oasst_en_100_text.jsonl"):
    t = json.loads(line)
    add(weak_label(t, "conversation"), "oasst", t)
with gzip.open(f"{D}/legit/hh-rlhf_harmless-base_test.jsonl.gz", "rt") as f:
    hh = [json.loads(l)["chosen"] for l in f]
rng.shuffle(hh)
for c in hh[:600]:
    m = re.search(r"Human: (.*?)(\n\nAssistant:|$)", c, re.S)
    if m:
        add(weak_label(m.group(1), "conversation"), "hh_rlhf", m.group(1))

for label, source, text in out:
    print(f"{label}\t{source}\t{text}")
