"""Builds the attacker's harvest and the "other teacher" pool from real recorded answers.

Our teacher (what the protected API answers): GPT-4-family answers -- AlpacaEval gpt4_1106_preview
and gpt-4o (805 prompts each), Arena-Hard gpt-4-0314 (500), and data/teacher (822).
Other teacher (for the mixing attack): Claude 3 Opus and Llama 3.1 405B answers to the same
AlpacaEval prompts. Reads ../shared/datasets (bench scripts may; the product does not)."""
import json
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED = os.environ.get("DG_SHARED", os.path.join(os.path.dirname(ROOT), "shared", "datasets"))


def _alpaca(name):
    with open(os.path.join(SHARED, "teacher", f"alpaca_eval_{name}.model_outputs.json")) as f:
        return [{"prompt": r["instruction"], "response": r["output"]} for r in json.load(f)]


def ours():
    out = _alpaca("gpt4_1106_preview") + _alpaca("gpt-4o-2024-05-13")
    with open(os.path.join(SHARED, "teacher", "arena-hard-v0.1_gpt-4-0314.jsonl")) as f:
        for line in f:
            r = json.loads(line)
            user = next(m["content"] for m in r["messages"] if m["role"] == "user")
            ans = next(m["content"] for m in r["messages"] if m["role"] == "assistant")
            out.append({"prompt": user, "response": ans["answer"] if isinstance(ans, dict) else ans})
    with open(os.path.join(ROOT, "data", "teacher", "teacher.jsonl")) as f:
        for line in f:
            r = json.loads(line)
            out.append({"prompt": r["prompt"], "response": r["response"]})
    return [r for r in out if r["response"].strip()]


def other():
    return _alpaca("claude-3-opus-20240229") + _alpaca("Meta-Llama-3.1-405B-Instruct-Turbo")


def unseen_answers():
    """Model and human assistant answers that never passed through our API: the other teachers'
    answers and OpenAssistant's assistant turns (empty ones included)."""
    texts = [r["response"] for r in other()]
    for name in ("claude-3-5-sonnet-20240620", "text_davinci_003"):
        texts += [r["response"] for r in _alpaca(name)]
    with open(os.path.join(SHARED, "legit", "oasst_en_100_tree.jsonl")) as f:
        def walk(m):
            if m.get("role") == "assistant":
                texts.append(m["text"])
            for c in m.get("replies", []):
                walk(c)
        for line in f:
            walk(json.loads(line)["prompt"])
    return texts


def clean_texts():
    """Unwatermarked real texts for calibration: every model answer we have plus human texts."""
    texts = [r["response"] for r in ours()] + unseen_answers()
    with open(os.path.join(SHARED, "legit", "sharegpt_sg_90k_part1_html_cleaned_lang_first_sampled.json")) as f:
        for r in json.load(f):
            for c in r["conversations"]:
                if c["from"] == "human" and len(c["value"].split()) > 20:
                    texts.append(c["value"])
    return texts
