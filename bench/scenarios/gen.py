#!/usr/bin/env python3
"""Writes the distillbench scenarios in bench/scenarios/*.toml.

The TOML files are the artifacts (commit them); this script only keeps the
populations defined once. Edit here, run `python3 bench/scenarios/gen.py`,
commit both. Personas and campaigns are described in docs/distillbench.md.
"""
import copy, os

HERE = os.path.dirname(os.path.abspath(__file__))

# --- shared infrastructure --------------------------------------------------
# Residential address space: home users AND the residential proxy networks
# that hydra clusters rent (their exits are real home connections).
RESIDENTIAL = ["24.0.0.0/12", "67.160.0.0/11", "73.0.0.0/10", "76.0.0.0/11", "98.192.0.0/10",
               "81.0.0.0/12", "90.0.0.0/11", "100.64.0.0/10", "177.0.0.0/11", "186.0.0.0/12",
               "49.128.0.0/11", "110.0.0.0/12"]
# Cloud egress: SaaS backends, batch jobs, and attackers' rented machines alike.
CLOUD = ["34.64.0.0/10", "35.184.0.0/13", "52.0.0.0/11", "3.0.0.0/9", "13.32.0.0/12", "20.0.0.0/11",
         "159.65.0.0/16", "167.99.0.0/16"]
UNIVERSITY = ["171.64.0.0/14", "128.32.0.0/16", "18.0.0.0/11"]
CORPORATE = ["198.51.100.0/27"]

SDK_UAS = ["OpenAI/Python 1.51.0", "OpenAI/Python 1.47.1", "OpenAI/JS 4.67.3", "OpenAI/JS 4.56.0",
           "python-requests/2.32.3", "axios/1.7.7"]
BROWSER_UAS = ["Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
               "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
               "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"]

# Local-time shapes (24 hourly weights, 7 weekly weights Monday first).
HUMAN = [0.3, 0.2, 0.15, 0.1, 0.1, 0.15, 0.3, 0.6, 0.9, 1.0, 1.1, 1.1, 1.0, 1.0, 1.1, 1.1, 1.0, 1.0, 1.0, 1.1, 1.2, 1.1, 0.8, 0.5]
OFFICE = [0.03, 0.02, 0.02, 0.02, 0.02, 0.03, 0.08, 0.4, 1.0, 1.4, 1.5, 1.3, 0.9, 1.3, 1.5, 1.4, 1.2, 0.7, 0.3, 0.15, 0.1, 0.06, 0.05, 0.04]
WEEK_HUMAN = [1, 1, 1, 1, 1, 1.1, 1.1]
WEEK_OFFICE = [1, 1, 1, 1, 0.9, 0.12, 0.08]
TZ_WORLD = [-8, -5, 0, 1, 2, 5.5, 8, 9]
TZ_US_EU = [-8, -5, 1]

BROAD = [("chat", 0.2), ("code", 0.2), ("math", 0.2), ("tasks", 0.1), ("graded", 0.2), ("support", 0.05), ("threads", 0.05)]
EXTRACT_TEMPLATES = [
    "{prompt}",
    "Please answer the following thoroughly and accurately.\n\n{prompt}",
    "{prompt}\n\nGive a complete, well-structured answer.",
    "Question: {prompt}\nAnswer in detail:",
    "Help me with this: {prompt}",
]


def prompts(pairs, **kw):
    out = []
    for p in pairs:
        d = {"pool": p[0], "weight": p[1]}
        if len(p) > 2:
            d.update(p[2])
        out.append(d)
    return out


# --- personas ---------------------------------------------------------------
def consumer_chat(accounts=300, rate=6):
    return dict(name="consumer_chat", kind="persona", accounts=accounts, created_days=[-700, -1],
                ip_blocks=RESIDENTIAL, ips_per_account=[1, 3], session_ip_share=0.3,
                user_agents=SDK_UAS[:4] + BROWSER_UAS, headers_fp_variants=3, pivot_share=0.15, pivot_delay_hours=[12, 300], pivot_traffic=0.6,
                stream=[dict(requests_per_day=rate, rate_sigma=1.0, hourly=HUMAN, weekly=WEEK_HUMAN,
                             utc_offsets=TZ_WORLD, multi_turn=0.45, turns_mean=3.5, think_seconds=[20, 240],
                             prompts=prompts([("threads", 0.35), ("chat", 0.5), ("code", 0.05), ("math", 0.05),
                                              ("multilingual", 0.02), ("tasks", 0.03)]),
                             system_prompts=["You are a helpful assistant."], system_prob=0.25,
                             models=["teacher-1", "teacher-1", "teacher-1-mini"], temperature=[0.7, 1.0, 1.0],
                             params_per_account=True, stream_prob=0.8)])


SUPPORT_SYSTEMS = [
    "You are Ava, the customer support assistant for Northwind Outfitters. Answer politely and briefly. Never promise refunds; offer to open a ticket instead.",
    "You are the help-desk assistant of BrightCell Mobile. Use the customer's order or account details when given, keep answers under 120 words, and escalate billing disputes to a human agent.",
    "You are a friendly support agent for Lumen Travel. Answer questions about bookings, cancellations and refunds. If you are unsure, ask the customer for their booking reference.",
    "You are the virtual assistant of Harbor Bank's card services. Be concise and never ask for full card numbers or passwords.",
]


def business_app(accounts=6, rate=300):
    return dict(name="business_app", kind="persona", accounts=accounts, created_days=[-400, -30],
                ip_blocks=CLOUD, ips_per_account=[1, 4], user_agents=SDK_UAS[:4], keys_per_account=[1, 3],
                stream=[dict(requests_per_day=rate, rate_sigma=0.8, hourly=HUMAN, weekly=WEEK_HUMAN,
                             utc_offsets=TZ_US_EU, multi_turn=0.3, turns_mean=3, think_seconds=[15, 90],
                             prompts=prompts([("support", 1.0)]), system_prompts=SUPPORT_SYSTEMS,
                             system_mode="per_account", models=["teacher-1-mini", "teacher-1"],
                             temperature=[0.2, 0.3, 0.5], max_tokens=[400, 512], params_per_account=True,
                             stream_prob=0.5)])


def coding_assistant(accounts=30, rate=100):
    return dict(name="coding_assistant", kind="persona", accounts=accounts, created_days=[-500, -10],
                ip_blocks=CLOUD, ips_per_account=[2, 6], user_agents=["OpenAI/JS 4.67.3", "axios/1.7.7", "OpenAI/Python 1.51.0"],
                keys_per_account=[1, 2], pivot_share=0.3, pivot_delay_hours=[24, 200], pivot_traffic=0.8,
                stream=[dict(requests_per_day=rate, rate_sigma=0.8, hourly=OFFICE, weekly=WEEK_OFFICE,
                             utc_offsets=TZ_US_EU + [5.5], multi_turn=0.5, turns_mean=4, think_seconds=[10, 180],
                             prompts=prompts([("code", 0.7), ("chat", 0.3, {"category": "code"})]),
                             context_pool="code", context_items=[0, 3],
                             system_prompts=["You are an expert programming assistant. Prefer concise, idiomatic code and explain only what is non-obvious.",
                                             "You are a coding assistant embedded in an IDE. The user's open files are included as context. Answer with code first."],
                             models=["teacher-1"], temperature=[0.0, 0.2], max_tokens=[1024, 2048, 4096],
                             params_per_account=True, stream_prob=0.9)])


def benchmark_team(start_day=2.3):
    return dict(name="benchmark_team", kind="persona", accounts=1, created_days=[-30, -3],
                ip_blocks=UNIVERSITY, ips_per_account=[1, 2], user_agents=["OpenAI/Python 1.47.1"],
                stream=[dict(requests_per_day=30000, start_day=start_day, end_day=start_day + 0.5,
                             timing="regular", jitter=0.6, order="sequential", once=True,
                             prompts=prompts([("math", 1.0, {"source": "gsm8k_test"}), ("code", 1.0, {"source": "humaneval"}),
                                              ("chat", 1.0, {"source": "mt_bench"})]),
                             models=["teacher-1"], temperature=[0.0], max_tokens=[1024])])


LABEL_TEMPLATES = [
    "Classify the customer message below into exactly one intent from this list: cancel_order, change_order, change_shipping_address, check_invoice, check_payment_methods, check_refund_policy, complaint, contact_customer_service, contact_human_agent, create_account, delete_account, delivery_options, delivery_period, edit_account, get_invoice, get_refund, newsletter_subscription, payment_issue, place_order, recover_password, registration_problems, review, set_up_shipping_address, switch_account, track_order, track_refund. Reply with the intent only.\n\nMessage: {prompt}\nIntent:",
    "Label the intent of this customer support message. Allowed labels: cancel_order, change_order, change_shipping_address, check_invoice, check_payment_methods, check_refund_policy, complaint, contact_customer_service, contact_human_agent, create_account, delete_account, delivery_options, delivery_period, edit_account, get_invoice, get_refund, newsletter_subscription, payment_issue, place_order, recover_password, registration_problems, review, set_up_shipping_address, switch_account, track_order, track_refund.\nMessage: \"{prompt}\"\nLabel:",
]


def labelling_pipeline(rate=2500):
    return dict(name="labelling_pipeline", kind="persona", accounts=1, created_days=[-120, -60],
                ip_blocks=CLOUD, ips_per_account=[1, 2], user_agents=["python-requests/2.32.3"], keys_per_account=[3, 6],
                stream=[dict(requests_per_day=rate, hourly=OFFICE, weekly=WEEK_OFFICE, utc_offsets=[1],
                             timing="regular", jitter=0.4, prompts=prompts([("support", 1.0)]),
                             templates=LABEL_TEMPLATES, models=["teacher-1-mini"], temperature=[0.0],
                             max_tokens=[8], logprobs_prob=1.0, top_logprobs=[5], response_tokens=3,
                             response_sigma=0.3)])


def corporate_many_keys(accounts=30, rate=60):
    return dict(name="corporate_many_keys", kind="persona", accounts=accounts, created_days=[-90, -90],
                created_burst_hours=3, ip_blocks=CORPORATE, ips_per_account=[1, 3],
                user_agents=["OpenAI/Python 1.51.0", "OpenAI/Python 1.51.0", "OpenAI/JS 4.67.3"],
                pivot_share=0.5, pivot_delay_hours=[4, 72], pivot_traffic=0.5,
                stream=[dict(requests_per_day=rate, rate_sigma=1.0, hourly=OFFICE, weekly=WEEK_OFFICE, utc_offsets=[-5],
                             multi_turn=0.3, turns_mean=3,
                             prompts=prompts([("chat", 0.35), ("code", 0.25), ("math", 0.1), ("tasks", 0.1),
                                              ("graded", 0.1), ("support", 0.1)]),
                             system_prompts=["pool:system"], system_prob=0.6, models=["teacher-1", "teacher-1-mini"],
                             temperature=[0.0, 0.3, 0.7], params_per_account=True, stream_prob=0.4)])


TRANSLATE_TEMPLATES = [
    "Translate the following text into {lang}. Keep the formatting.\n\n{prompt}",
    "Translate into {lang}:\n{prompt}",
    "Please provide a faithful {lang} translation of this text:\n\n{prompt}",
]
LANGS = ["French", "German", "Spanish", "Japanese", "Portuguese (Brazil)", "Italian", "Korean", "Dutch", "Polish", "Turkish"]


def translation_service(accounts=2, rate=1500):
    return dict(name="translation_service", kind="persona", accounts=accounts, created_days=[-300, -100],
                ip_blocks=CLOUD, ips_per_account=[2, 4], user_agents=["Go-http-client/2.0"], keys_per_account=[1, 2],
                stream=[dict(requests_per_day=rate, rate_sigma=0.3, prompts=prompts([("support", 0.5), ("chat", 0.3), ("multilingual", 0.2)]),
                             templates=TRANSLATE_TEMPLATES, languages=LANGS,
                             system_prompts=["You are a professional translator. Translate faithfully, preserve names, numbers and markup, and output only the translation."],
                             system_mode="fixed", models=["teacher-1-mini"], temperature=[0.2], max_tokens=[2048],
                             response_from_prompt=True, response_sigma=0.2)])


JUDGE_TEMPLATES = [
    "Please act as an impartial judge and evaluate the quality of the response provided by an AI assistant to the user question displayed below. Your evaluation should consider factors such as the helpfulness, relevance, accuracy, depth, creativity, and level of detail of the response. Begin your evaluation by providing a short explanation. Be as objective as possible. After providing your explanation, you must rate the response on a scale of 1 to 10 by strictly following this format: \"[[rating]]\", for example: \"Rating: [[5]]\".\n\n[Question]\n{prompt}\n\n[The Start of Assistant's Answer]\n{answer}\n[The End of Assistant's Answer]",
    "You are grading our support bot's answer for a regression test. Score 1-5 for correctness and tone, then explain in one sentence.\n\nCustomer question: {prompt}\nBot answer: {answer}\nScore:",
]


def eval_team(accounts=2, rate=900):
    """A legitimate ML team grading its own model's answers every night (LLM-as-judge)."""
    return dict(name="eval_team", kind="persona", accounts=accounts, created_days=[-250, -40],
                ip_blocks=CLOUD, ips_per_account=[1, 2], user_agents=["OpenAI/Python 1.51.0", "python-requests/2.32.3"],
                stream=[dict(requests_per_day=rate, rate_sigma=0.3, hourly=[0, 6, 8, 8, 6, 2] + [0] * 18, utc_offsets=[-8, 1],
                             prompts=prompts([("graded", 0.7), ("chat", 0.3, {"source": "self-instruct-user-oriented"})]),
                             templates=JUDGE_TEMPLATES, models=["teacher-1"], temperature=[0.0], max_tokens=[512],
                             response_tokens=120)])


def tutoring_app(accounts=4, rate=400):
    """A legitimate homework-help app: one system prompt asking for every step, math and code."""
    return dict(name="tutoring_app", kind="persona", accounts=accounts, created_days=[-300, -20],
                ip_blocks=CLOUD, ips_per_account=[1, 3], user_agents=["OpenAI/JS 4.67.3"],
                stream=[dict(requests_per_day=rate, rate_sigma=0.6, hourly=[0.2] * 7 + [0.5, 0.8, 0.8, 0.8, 0.9, 1, 1.2, 1.5, 2.2, 2.5, 2.5, 2.4, 2.2, 1.8, 1.2, 0.6, 0.3],
                             weekly=[1, 1, 1, 1, 0.8, 0.6, 1.1], utc_offsets=[-5, -8], multi_turn=0.5, turns_mean=3,
                             prompts=prompts([("math", 0.8, {"source": "gsm8k_train"}), ("code", 0.2, {"source": "mbpp"})]),
                             system_prompts=["You are a patient tutor for students aged 12-18. Explain every step of your reasoning so the student can follow it, then give the final answer on its own line. Never just give the answer."],
                             system_mode="fixed", models=["teacher-1-mini", "teacher-1"], temperature=[0.3],
                             max_tokens=[1500], params_per_account=True, stream_prob=0.9, response_scale=1.8)])


# --- campaigns --------------------------------------------------------------
def bulk_extraction(rate=3000):
    return dict(name="bulk_extraction", kind="campaign", persona="api_developer", accounts=1, created_days=[-20, -5],
                ip_blocks=CLOUD, ips_per_account=[2, 6], user_agents=["OpenAI/Python 1.51.0"],
                stream=[dict(requests_per_day=rate, prompts=prompts(BROAD), templates=EXTRACT_TEMPLATES,
                             template_prob=0.5, models=["teacher-1"], temperature=[0.7, 1.0], n=[1, 1, 2],
                             max_tokens=[2048, 4096])])


def hydra(accounts=600, rate=12, created_day=-10, templates=None, name="hydra"):
    return dict(name=name, kind="campaign", persona="consumer_chat", accounts=accounts,
                created_days=[created_day, created_day], created_burst_hours=48,
                ip_blocks=RESIDENTIAL, ip_mode="rotating", user_agents=SDK_UAS[:4] + BROWSER_UAS[:2], ua_mode="rotate",
                headers_fp_variants=2,
                stream=[dict(requests_per_day=rate, rate_sigma=0.4, hourly=HUMAN, weekly=WEEK_HUMAN, utc_offsets=TZ_WORLD,
                             multi_turn=0.1, turns_mean=2, system_prompts=["You are a helpful assistant."], system_prob=0.2,
                             order="split", prompts=prompts([("math", 0.3), ("code", 0.3), ("tasks", 0.1), ("graded", 0.3)]),
                             templates=templates or EXTRACT_TEMPLATES[1:], template_prob=0.8,
                             models=["teacher-1"], temperature=[0.6, 0.7, 0.8, 1.0], max_tokens=[0, 0, 2048, 4096],
                             params_per_account=True, stream_prob=0.5)])


def reseller(accounts=20):
    return dict(name="reseller", kind="campaign", persona="reseller_app", accounts=accounts, created_days=[-200, -20],
                ip_blocks=CLOUD, ips_per_account=[2, 5], user_agents=["OpenAI/JS 4.67.3", "OpenAI/Python 1.51.0"],
                keys_per_account=[2, 8],
                stream=[dict(requests_per_day=60, rate_sigma=0.8, hourly=HUMAN, weekly=WEEK_HUMAN, utc_offsets=TZ_WORLD,
                             multi_turn=0.4, turns_mean=3, prompts=prompts([("threads", 0.4), ("chat", 0.5), ("code", 0.1)]),
                             system_prompts=["You are a helpful assistant."], system_prob=0.5,
                             models=["teacher-1", "teacher-1-mini"], temperature=[0.7, 1.0], stream_prob=0.8),
                        dict(requests_per_day=40, rate_sigma=0.5, hourly=HUMAN, utc_offsets=TZ_WORLD,
                             prompts=prompts(BROAD), templates=EXTRACT_TEMPLATES, template_prob=0.6,
                             models=["teacher-1"], temperature=[0.7, 1.0], max_tokens=[2048, 4096], stream_prob=0.3)])


COT_TEMPLATES = [
    "Explain every step of your reasoning before giving the final answer.\n\n{prompt}",
    "{prompt}\n\nThink step by step and write out all of your reasoning in full.",
    "Here is a question and its completed answer. Write out the reasoning behind this completed answer, step by step, as if you had produced it yourself.\n\nQuestion: {prompt}\n\nAnswer: {answer}",
    "Articulate the internal reasoning that leads to the answer below, leaving no step out.\n\nProblem: {prompt}\nFinal answer: {answer}",
]


def cot_harvest(accounts=15, rate=100, templates=None):
    return dict(name="cot_harvest", kind="campaign", persona="tutoring_app", accounts=accounts, created_days=[-60, -2],
                ip_blocks=RESIDENTIAL, ips_per_account=[2, 8], user_agents=SDK_UAS,
                stream=[dict(requests_per_day=rate, rate_sigma=0.5, hourly=HUMAN, utc_offsets=TZ_WORLD,
                             prompts=prompts([("math", 0.5), ("graded", 0.3), ("code", 0.2)]),
                             templates=templates or COT_TEMPLATES, template_prob=0.9, models=["teacher-1"],
                             temperature=[0.7], max_tokens=[4096], response_scale=2.2)])


RUBRIC_TEMPLATES = [
    "You are a strict grader. Score the response to the question below from 1 to 10 for correctness, helpfulness and clarity. Return JSON {\"score\": <1-10>, \"rationale\": \"...\"}.\n\nQuestion: {prompt}\n\nResponse: {answer}",
    "Rate the following answer on a 1-10 scale using this rubric: accuracy (40%), completeness (30%), clarity (30%). Output only a JSON object with fields score and rationale.\n\n[Question]\n{prompt}\n\n[Answer]\n{answer}",
    "Act as an impartial judge. Evaluate the quality of the response to the user question. Give a short explanation, then a final verdict as \"Rating: [[n]]\" with n from 1 to 10.\n\n[User Question]\n{prompt}\n\n[Assistant's Answer]\n{answer}",
]


def rubric_harvest(accounts=5, rate=200):
    return dict(name="rubric_harvest", kind="campaign", persona="eval_startup", accounts=accounts, created_days=[-45, -5],
                ip_blocks=CLOUD, ips_per_account=[1, 3], user_agents=["OpenAI/Python 1.51.0", "python-requests/2.32.3"],
                stream=[dict(requests_per_day=rate, rate_sigma=0.5, hourly=OFFICE, utc_offsets=[8],
                             prompts=prompts([("graded", 0.6), ("math", 0.2), ("code", 0.2)]),
                             templates=RUBRIC_TEMPLATES, models=["teacher-1"], temperature=[0.0], max_tokens=[300],
                             logprobs_prob=0.5, top_logprobs=[5, 10], response_tokens=90)])


def logprob_harvest(accounts=4, rate=400):
    return dict(name="logprob_harvest", kind="campaign", persona="api_developer", accounts=accounts, created_days=[-30, -3],
                ip_blocks=CLOUD + RESIDENTIAL[:3], ips_per_account=[1, 4], user_agents=["python-requests/2.32.3", "OpenAI/Python 1.51.0"],
                stream=[dict(requests_per_day=rate, rate_sigma=0.4, hourly=HUMAN, utc_offsets=[0, 8],
                             prompts=prompts(BROAD), templates=EXTRACT_TEMPLATES, template_prob=0.4,
                             models=["teacher-1"], temperature=[1.0], max_tokens=[512, 1024],
                             logprobs_prob=1.0, top_logprobs=[20], completions_endpoint_prob=0.3)])


def slow_low(accounts=4, rate=30):
    return dict(name="slow_low", kind="campaign", persona="consumer_chat", accounts=accounts, created_days=[-200, -60],
                ip_blocks=RESIDENTIAL, ips_per_account=[1, 2], session_ip_share=0.3, user_agents=SDK_UAS[:4] + BROWSER_UAS,
                stream=[dict(requests_per_day=rate, rate_sigma=0.3, hourly=HUMAN, weekly=WEEK_HUMAN, utc_offsets=[-5],
                             multi_turn=0.1, turns_mean=2, prompts=prompts(BROAD), templates=EXTRACT_TEMPLATES,
                             template_prob=0.5, models=["teacher-1", "teacher-1-mini"], temperature=[0.7, 1.0],
                             params_per_account=True, stream_prob=0.6)])


def pivot(accounts=10, rate=300):
    return dict(name="model_pivot", kind="campaign", persona="api_developer", accounts=accounts, created_days=[-90, -10],
                ip_blocks=CLOUD, ips_per_account=[1, 3], user_agents=SDK_UAS[:4],
                pivot_share=1.0, pivot_delay_hours=[1, 20], pivot_traffic=1.0,
                stream=[dict(requests_per_day=rate, rate_sigma=0.5, utc_offsets=[0],
                             prompts=prompts(BROAD), templates=EXTRACT_TEMPLATES, template_prob=0.5,
                             models=["teacher-1"], temperature=[0.7, 1.0], max_tokens=[2048])])


# --- TOML writer --------------------------------------------------------------
def val(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    if isinstance(v, list):
        return "[" + ", ".join(val(x) for x in v) + "]"
    raise TypeError(v)


def write(name, header, pops, comment):
    lines = ["# " + l for l in comment.strip().splitlines()]
    lines.append("# Generated by bench/scenarios/gen.py; edit there.")
    for k, v in header.items():
        lines.append(f"{k} = {val(v)}")
    for p in pops:
        lines.append("")
        lines.append("[[population]]")
        for k, v in p.items():
            if k != "stream":
                lines.append(f"{k} = {val(v)}")
        for s in p["stream"]:
            lines.append("  [[population.stream]]")
            for k, v in s.items():
                if k != "prompts":
                    lines.append(f"  {k} = {val(v)}")
            for q in s["prompts"]:
                lines.append("    [[population.stream.prompts]]")
                for k, v in q.items():
                    lines.append(f"    {k} = {val(v)}")
    with open(os.path.join(HERE, name + ".toml"), "w") as f:
        f.write("\n".join(lines) + "\n")


def hdr(name, desc, days, seed, start="2026-02-02T00:00:00Z", new_model_day=None, content=False):
    h = dict(name=name, description=desc, start=start, days=days, seed=seed, prompts_dir="../../data/prompts")
    if content:
        h["response_content"] = True
    if new_model_day is not None:
        h["new_model"] = "teacher-2"
        h["new_model_day"] = new_model_day
    return h


def main():
    all_personas = lambda s=1.0: [consumer_chat(int(300 * s)), business_app(max(2, int(6 * s))), coding_assistant(max(3, int(30 * s))),
                                  benchmark_team(), labelling_pipeline(), corporate_many_keys(max(5, int(30 * s))), translation_service(),
                                  eval_team(), tutoring_app()]
    write("smoke", hdr("smoke", "tiny: a few personas and campaigns, for CI", 1, 7),
          [consumer_chat(60, 5), business_app(2, 200), coding_assistant(5, 60), bulk_extraction(1500),
           hydra(150, 10), cot_harvest(4, 60)],
          "Smallest scenario: one day, three personas, three campaigns (< 1 s).")
    write("mixed-small", hdr("mixed-small", "every persona and campaign, small", 4, 11, new_model_day=1.5),
          all_personas(0.8) + [bulk_extraction(2000), hydra(400, 10), reseller(12), cot_harvest(10, 80),
                               rubric_harvest(4, 150), logprob_harvest(3, 300), slow_low(4, 30), pivot(8, 250)],
          "Every persona (hard negatives included) and every campaign, four days.\nThe default development scenario.")
    write("hard-negatives", hdr("hard-negatives", "only legitimate traffic, including the hard negatives", 5, 21),
          [consumer_chat(250, 6), business_app(6, 300), coding_assistant(25, 100), benchmark_team(1.2), benchmark_team(3.4) | {"name": "benchmark_team_rerun"},
           labelling_pipeline(3000), corporate_many_keys(40, 60), translation_service(3, 1200), eval_team(2, 1000),
           tutoring_app(4, 400)],
          "Only legitimate customers: a detector's false-positive test.\nbenchmark_team_rerun is a second team running the same public benchmarks.")
    write("hydra", hdr("hydra", "a hydra cluster among consumer accounts", 5, 31),
          [consumer_chat(600, 6), hydra(2000, 8)],
          "A hydra cluster of 2,000 throw-away accounts (each about 8 requests a day, below any\nper-account threshold) behind rotating residential proxies, among 600 genuine consumers.")
    write("reseller", hdr("reseller", "reseller accounts mixing extraction into genuine traffic", 5, 41),
          [consumer_chat(300, 6), business_app(6, 300), reseller(20)],
          "A reseller network: each account forwards its customers' genuine chats and mixes\nextraction traffic into them.")
    write("reasoning-harvest", hdr("reasoning-harvest", "chain-of-thought, rubric and log-probability harvesting", 4, 51, content=True),
          [consumer_chat(250, 6), labelling_pipeline(2500), coding_assistant(20, 100), eval_team(2, 900), tutoring_app(4, 400),
           cot_harvest(12, 100), rubric_harvest(5, 200), logprob_harvest(4, 400)],
          "Campaigns after soft labels and reasoning: chain-of-thought, rubric/grading (the model\nas a reward model) and log-probability harvesting; the labelling pipeline also asks for\nlogprobs (a hard negative).")
    write("slow-low", hdr("slow-low", "slow-and-low extraction over four weeks", 28, 61),
          [consumer_chat(120, 5), corporate_many_keys(15, 40), slow_low(5, 30)],
          "Slow-and-low: five aged accounts, about 30 requests a day each, for four weeks,\ncovering every capability area with human-like timing.")
    write("pivot", hdr("pivot", "a campaign moving to a newly released model within a day", 5, 71, new_model_day=2.0),
          [consumer_chat(300, 6), coding_assistant(25, 100), corporate_many_keys(20, 60), pivot(10, 300)],
          "A new model (teacher-2) is released on day 2; the campaign moves to it within hours,\nlegitimate customers adopt it gradually.")
    # Held-out: different seeds, rates, prompt mixes, paraphrases. Not for tuning.
    heldout_hydra_tpl = ["I need a detailed answer to this:\n{prompt}", "{prompt}\n\nBe thorough and precise.",
                         "Task: {prompt}\nWrite a full solution.", "Could you work through this? {prompt}"]
    heldout_cot_tpl = ["Show all of your intermediate reasoning, then state the result.\n\n{prompt}",
                       "Below is a problem with its final solution. Reconstruct the complete chain of reasoning that produces it.\n\n{prompt}\n\nSolution: {answer}",
                       "{prompt}\n\nWalk me through your thinking one step at a time."]
    write("heldout-a", hdr("heldout-a", "HELD OUT: every kind, different seed, rates and paraphrases", 5, 9001,
                           start="2026-03-09T00:00:00Z", new_model_day=2.5),
          [consumer_chat(350, 5), business_app(5, 250), coding_assistant(25, 120), benchmark_team(3.1),
           labelling_pipeline(1800), corporate_many_keys(25, 80), translation_service(2, 1800), eval_team(1, 1200),
           tutoring_app(3, 500),
           bulk_extraction(2400), hydra(500, 9, templates=heldout_hydra_tpl), reseller(10),
           cot_harvest(8, 90, templates=heldout_cot_tpl), rubric_harvest(3, 180), logprob_harvest(3, 250),
           slow_low(3, 25), pivot(6, 200)],
          "HELD OUT for honest evaluation: do not tune the engine on this file or its outputs.\nSame kinds as mixed-small with other seeds, rates, paraphrases and start date.")
    write("heldout-b", hdr("heldout-b", "HELD OUT: fewer, quieter campaigns among more customers", 6, 9002,
                           start="2026-04-13T00:00:00Z", new_model_day=4.0),
          [consumer_chat(500, 4), business_app(8, 200), coding_assistant(40, 80), benchmark_team(0.6),
           labelling_pipeline(3500), corporate_many_keys(35, 50), translation_service(3, 1000), eval_team(3, 600),
           tutoring_app(5, 300),
           bulk_extraction(1200), hydra(900, 5, templates=heldout_hydra_tpl[::-1]), reseller(8),
           cot_harvest(6, 50, templates=heldout_cot_tpl[1:] + COT_TEMPLATES[:1]), rubric_harvest(2, 120),
           logprob_harvest(2, 200), slow_low(4, 20), pivot(5, 150)],
          "HELD OUT for honest evaluation: do not tune the engine on this file or its outputs.\nQuieter campaigns (lower rates, a larger hydra at 5 requests/day) among more customers.")
    # Large: >= 5M exchanges, >= 20k accounts.
    big = [consumer_chat(17000, 7), business_app(60, 400), coding_assistant(600, 100),
           benchmark_team(1.2), benchmark_team(4.4) | {"name": "benchmark_team_b"}, labelling_pipeline(20000),
           corporate_many_keys(200, 80), translation_service(8, 6000), eval_team(10, 2000), tutoring_app(30, 600),
           bulk_extraction(20000), hydra(6000, 12), reseller(120), cot_harvest(60, 120), rubric_harvest(20, 300),
           logprob_harvest(15, 800), slow_low(20, 30), pivot(40, 500)]
    write("large", hdr("large", "large: >= 5 million exchanges, >= 20,000 accounts", 14, 101, new_model_day=6.0), big,
          "The large scenario: two weeks, about 22,000 accounts and over 5 million exchanges.\nUsed by bench/simulate_bench.sh and for engine throughput.")


if __name__ == "__main__":
    main()
