#!/usr/bin/env python3
"""Builds data/prompts/*.jsonl (distillbench prompt pools) from ../shared/datasets.

Deterministic: fixed seeds, fixed source files (pinned by commit in SOURCES.md).
Usage: python3 data/prompts/build.py [DATASETS_DIR] [--out DIR] [--full]
(default DATASETS_DIR: ../shared/datasets beside the repository; default --out:
data/prompts). --full keeps every record instead of the shipped samples: larger
pools for experiments, pointed at with a scenario's prompts_dir or
`distillguard simulate --prompts DIR`; never commit those. Only permissively licensed sources are used
(Apache-2.0, MIT, CC-BY-4.0, CC0-1.0, CDLA-Sharing-1.0); NON-COMMERCIAL sets are not.

One record per line: {"text", "source", "category"} plus optional "answer" (a real
reference answer, truncated), "answer_chars" (its length before truncation) and "thread" (later turns of a real multi-turn
conversation: [assistant, user, assistant, user, ...]).
"""
import csv, gzip, json, os, random, sys

csv.field_size_limit(1 << 24)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ARGS = sys.argv[1:]
FULL = "--full" in ARGS
OUT = os.path.join(ROOT, "data", "prompts")
if "--out" in ARGS:
    OUT = ARGS[ARGS.index("--out") + 1]
    del ARGS[ARGS.index("--out"):ARGS.index("--out") + 2]
ARGS = [a for a in ARGS if a != "--full"]
SRC = ARGS[0] if ARGS else os.path.join(ROOT, "..", "shared", "datasets")
BIG = 10 ** 9


def cap(n):
    return BIG if FULL else n
MAX_TEXT = 4000     # characters kept of one prompt (long contexts stay long, but bounded)
MAX_ANSWER = 1200   # characters kept of a reference answer


def jl(path):
    op = gzip.open if path.endswith(".gz") else open
    with op(os.path.join(SRC, path), "rt", encoding="utf-8") as f:
        return [json.loads(l) for l in f if l.strip()]


def rec(text, source, category, answer=None, thread=None):
    text = text.strip()
    if not text:
        return None
    r = {"text": text[:MAX_TEXT], "source": source, "category": category}
    if answer and answer.strip():
        r["answer"] = answer.strip()[:MAX_ANSWER]
        r["answer_chars"] = len(answer.strip())  # before the cut: the real response length
    if thread:
        r["thread"] = [t.strip()[:MAX_TEXT // 4] for t in thread]
    return r


def write(name, rows):
    rows = [r for r in rows if r]
    with open(os.path.join(OUT, name + ".jsonl"), "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False, sort_keys=False) + "\n")
    print(f"{name}.jsonl: {len(rows)} records", file=sys.stderr)


MT_CAT = {"writing": "writing", "roleplay": "roleplay", "reasoning": "reasoning", "math": "math",
          "coding": "code", "extraction": "extraction", "stem": "stem", "humanities": "humanities"}
VIC_CAT = {"generic": "knowledge", "knowledge": "knowledge", "roleplay": "roleplay",
           "common-sense": "reasoning", "fermi": "reasoning", "counterfactual": "reasoning",
           "writing": "writing", "coding": "code", "math": "math"}


def arena_category(cluster, prompt):
    c = (cluster + " " + prompt[:200]).lower()
    for words, cat in ((("python", "code", "sql", "javascript", "program", "function", "api", "c++", "rust", "script", "html", "css", "excel", "docker", "linux", "kotlin", "swift", "algorithm"), "code"),
                       (("math", "probability", "equation", "proof", "number", "calcul"), "math"),
                       (("story", "poem", "write", "essay", "song", "melody"), "writing"),
                       (("riddle", "puzzle", "logic"), "reasoning")):
        if any(w in c for w in words):
            return cat
    return "knowledge"


def main():
    rnd = random.Random(20260201)
    os.makedirs(OUT, exist_ok=True)

    # chat: single prompts written by real users / human writers.
    chat = []
    arena_answers = {}
    for r in jl("teacher/arena-hard-v0.1_gpt-4-0314.jsonl"):
        a = r["messages"][1]["content"]
        arena_answers[r["uid"]] = a["answer"] if isinstance(a, dict) else a
    arena = jl("legit/arena-hard-v0.1_question.jsonl")
    for r in arena:
        chat.append(rec(r["prompt"], "arena-hard-v0.1", arena_category(r["cluster"], r["prompt"]),
                        answer=arena_answers.get(r["uid"])))
    for t in jl("legit/oasst_en_100_text.jsonl"):
        chat.append(rec(t, "oasst_en_100", "chat"))
    for r in jl("legit/mt_bench_question.jsonl"):
        chat.append(rec(r["turns"][0], "mt_bench", MT_CAT[r["category"]], thread=None))
    for r in jl("legit/vicuna_bench_question.jsonl"):
        chat.append(rec(r["turns"][0], "vicuna_bench", VIC_CAT.get(r["category"], "knowledge")))
    uo_pred = jl("teacher/self-instruct_user_oriented_text-davinci-003_predictions.jsonl")
    for r, p in zip(jl("legit/self-instruct_user_oriented_instructions.jsonl"), uo_pred):
        inp = r["instances"][0]["input"] if r["instances"] else ""
        text = r["instruction"] + ("\n\n" + inp if inp else "")
        chat.append(rec(text, "self-instruct-user-oriented", "task", answer=p.get("response")))
    hh = jl("legit/hh-rlhf_harmless-base_test.jsonl.gz")
    rnd.shuffle(hh)
    for r in hh[:cap(500)]:
        first, _, rest = r["chosen"].split("\n\nHuman: ")[1].partition("\n\nAssistant:")
        chat.append(rec(first, "hh-rlhf-harmless-base", "chat", answer=rest))
    write("chat", chat)

    # threads: real multi-turn conversations (user first, then alternating turns).
    threads = []
    for r in jl("legit/oasst_en_100_tree.jsonl"):
        def walk(node, path):
            path = path + [node["text"]]
            kids = [k for k in node.get("replies", []) if not k.get("deleted")]
            if not kids or len(path) >= 7:
                if len(path) >= 3:
                    threads.append(rec(path[0], "oasst_en_100_tree", "chat", thread=path[1:]))
                return
            for k in kids[:2]:
                walk(k, path)
        walk(r["prompt"], [])
    for r in hh[(0 if FULL else 500):cap(1100)]:
        parts = r["chosen"].split("\n\nHuman: ")[1:]
        turns = []
        for p in parts:
            h, _, a = p.partition("\n\nAssistant:")
            turns += [h, a]
        turns = [t for t in turns if t.strip()]
        if len(turns) >= 3:
            threads.append(rec(turns[0], "hh-rlhf-harmless-base", "chat", thread=turns[1:]))
    write("threads", threads)

    # code: programming problems (crowd-sourced MBPP; HumanEval stubs as long contexts).
    code = []
    for r in jl("attack/mbpp.jsonl"):
        code.append(rec(r["text"] + "\nYour code should pass this test: " + r["test_list"][0],
                        "mbpp", "code", answer=r["code"]))
    for r in jl("attack/HumanEval.jsonl.gz"):
        code.append(rec("Complete the following Python function.\n\n" + r["prompt"], "humaneval", "code",
                        answer=r["prompt"] + r["canonical_solution"]))
    write("code", code)

    # math: grade-school word problems with worked answers.
    gtrain = jl("attack/gsm8k_train.jsonl")
    rnd.shuffle(gtrain)
    math_rows = [rec(r["question"], "gsm8k_train", "math", answer=r["answer"]) for r in gtrain[:cap(1200)]]
    math_rows += [rec(r["question"], "gsm8k_test", "math", answer=r["answer"]) for r in jl("attack/gsm8k_test.jsonl")]
    write("math", math_rows)

    # support: customer messages for a support bot / intent labelling (Bitext).
    with open(os.path.join(SRC, "legit/Bitext_Sample_Customer_Support_Training_Dataset.csv"), encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    rnd.shuffle(rows)
    write("support", [rec(r["instruction"], "bitext", "support:" + r["intent"]) for r in rows[:cap(2500)]])

    # tasks: the 175 human-written Self-Instruct seed tasks (the capability spectrum Alpaca started from).
    tasks = []
    for r in jl("attack/self-instruct_seed_tasks.jsonl"):
        inst = r["instances"][0]
        text = r["instruction"] + ("\n\n" + inst["input"] if inst["input"] else "")
        tasks.append(rec(text, "self-instruct-seed", "classification" if r["is_classification"] else "task",
                         answer=inst["output"]))
    write("tasks", tasks)

    # graded: real questions with a real strong-model answer (rubric / reasoning harvesting).
    graded = []
    for r in arena:
        if r["uid"] in arena_answers:
            graded.append(rec(r["prompt"], "arena-hard-v0.1+gpt-4-0314", arena_category(r["cluster"], r["prompt"]),
                              answer=arena_answers[r["uid"]]))
    write("graded", graded)

    # system: system prompts an application would set ("act as ..."), CC0.
    with open(os.path.join(SRC, "legit/awesome-chatgpt-prompts_prompts.csv"), encoding="utf-8") as f:
        aw = [r for r in csv.DictReader(f) if r.get("type", "TEXT") == "TEXT" and 80 < len(r["prompt"]) < 1500]
    rnd.shuffle(aw)
    write("system", [rec(r["prompt"], "awesome-chatgpt-prompts", "system:" + r["act"][:60]) for r in aw[:cap(300)]])

    # multilingual: short prompts in 12 languages (translation sources).
    write("multilingual", [rec(t, "oasst_multilingual-60", "translation") for t in jl("legit/oasst_multilingual-60.jsonl")])


if __name__ == "__main__":
    main()
