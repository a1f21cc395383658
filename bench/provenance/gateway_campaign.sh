#!/usr/bin/env bash
# A distillation campaign through a live gateway: the replay upstream serves real recorded
# answers (data/teacher, 822 prompts); account "attacker" is pinned to a rung (default trace)
# by [policy.accounts], account "customer" is allow. Both ask every prompt; what each
# received is kept in $W/harvest-<account>.jsonl, then students_from_harvest.py trains a
# trigram student on each and runs verify / the canary search.
set -euo pipefail
cd "$(dirname "$0")"
W=${DG_PROV_WORK:-/tmp/dg-provenance}/campaign
BIN=$(cd ../.. && pwd)/${DG_BIN_REL:-build-def/src/cli/distillguard}
RUNG=${RUNG:-trace}
rm -rf "$W" && mkdir -p "$W"
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill $p 2>/dev/null || true; done' EXIT
wait_listening() { for _ in $(seq 1 200); do grep -q '^listening on ' "$1" 2>/dev/null && { sed -n 's/^listening on //p' "$1" | head -1; return; }; sleep 0.05; done; exit 1; }
"$BIN" replay-upstream --listen 127.0.0.1:0 --threads 2 > "$W/up.out" 2> "$W/up.err" & PIDS+=($!)
UP=$(wait_listening "$W/up.out")
cp "${DG_PROV_WORK:-/tmp/dg-provenance}/master.key" "$W/master" 2>/dev/null || printf 'provenance-experiment-master-key\n' > "$W/master"
cat > "$W/cfg.toml" <<TOML
[server]
listen = "127.0.0.1:0"
io_threads = 2
[[upstream]]
name = "replay"
url = "http://$UP"
models = ["*"]
[storage]
sqlite_path = "$W/dg.db"
[limits]
default_tier = "enterprise"
[stages]
order = ["auth", "policy", "forward"]
[policy]
watermark_master_key_file = "$W/master"
max_tokens_cap = 100000
[policy.accounts]
acct-42 = "$RUNG"
TOML
"$BIN" serve --config "$W/cfg.toml" > "$W/gw.out" 2> "$W/gw.err" & PIDS+=($!)
GW=$(wait_listening "$W/gw.out")
for a in acct-42 customer; do "$BIN" accounts create "$a" --config "$W/cfg.toml" > /dev/null; done
K1=$("$BIN" keys create --account acct-42 --config "$W/cfg.toml" 2>/dev/null | sed -n 's/^secret: //p')
K2=$("$BIN" keys create --account customer --config "$W/cfg.toml" 2>/dev/null | sed -n 's/^secret: //p')
python3 - "$GW" "$K1" "$K2" "$W" "../../data/teacher/teacher.jsonl" <<'PY'
import json, sys, urllib.request
gw, k1, k2, w, data = sys.argv[1:]
prompts = [json.loads(l)["prompt"] for l in open(data)]
for account, key in (("acct-42", k1), ("customer", k2)):
    with open(f"{w}/harvest-{account}.jsonl", "w") as out:
        for p in prompts:
            req = urllib.request.Request(f"http://{gw}/v1/chat/completions", method="POST",
                data=json.dumps({"model": "teacher-1", "messages": [{"role": "user", "content": p}]}).encode(),
                headers={"Authorization": f"Bearer {key}", "content-type": "application/json"})
            body = json.load(urllib.request.urlopen(req, timeout=60))
            out.write(json.dumps({"prompt": p, "response": body["choices"][0]["message"]["content"]}) + "\n")
    print(account, len(prompts), "answers harvested", file=sys.stderr)
PY
# What the customer (allow) received must be exactly the recorded answers; what the
# attacker received differs from the customer's answer to the same prompt by the watermark
# (words swapped in place) and the canary sentences (words added).
python3 - "$W" <<'PY'
import json, sys
w = sys.argv[1]
recorded = {json.loads(l)["response"] for l in open("../../data/teacher/teacher.jsonl")}
cust = [json.loads(l) for l in open(f"{w}/harvest-customer.jsonl")]
att = [json.loads(l) for l in open(f"{w}/harvest-acct-42.jsonl")]
same = sum(r["response"] in recorded for r in cust)
print(f"customer (allow): {same}/{len(cust)} answers byte-identical to the recorded answer (0 words changed)")
changed = sum(sum(a != b for a, b in zip(c["response"].split(), x["response"].split())) for c, x in zip(cust, att))
added = sum(len(x["response"].split()) - len(c["response"].split()) for c, x in zip(cust, att))
canaries = sum(("glossaries also file" in x["response"]) or ("compact summary, see the" in x["response"])
               or ("Mnemonic for these steps" in x["response"]) for x in att)
print(f"acct-42 (rung): {changed} words swapped ({changed/len(att):.3f} per answer), {canaries} answers with a canary "
      f"({added} words added)")
PY
