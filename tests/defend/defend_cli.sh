#!/usr/bin/env bash
# watermark -> verify attributes the right account among several, also scoring
# only what the account was sent (--received); clean text is attributed to
# nobody; evidence --cluster finds analyze's cluster from the audit log alone.
set -euo pipefail
: "${DG_BIN:?}" "${DG_SOURCE_DIR:?}" "${DG_TMP:?}"
rm -rf "$DG_TMP"; mkdir -p "$DG_TMP"; cd "$DG_TMP"
printf 'integration-master\n' > master
for i in $(seq 1 50); do echo "acct-$i"; done > accounts
DATA="$DG_SOURCE_DIR/data/teacher/teacher.jsonl"

"$DG_BIN" watermark --master-key-file master --account acct-17 --strength 0.5 "$DATA" > marked.jsonl 2> stats.txt
grep -q "words changed" stats.txt
python3 -c 'import json,sys
for l in open(sys.argv[1]): print(json.loads(l)["response"])' marked.jsonl > marked.txt
python3 -c 'import json,sys
for l in open(sys.argv[1]): print(json.loads(l)["response"])' "$DATA" > clean.txt

out=$("$DG_BIN" verify --master-key-file master --accounts accounts --format json marked.txt clean.txt)
echo "$out"
python3 - "$out" <<'PY'
import json, sys
rows = [json.loads(l) for l in sys.argv[1].splitlines()]
assert rows[0]["account"] == "acct-17" and rows[0]["account_p_value"] < 1e-6, rows[0]
assert rows[1]["account"] is None and rows[1]["account_p_value"] > 1e-3, rows[1]
for r in rows:
    assert set(r) == {"file", "positions", "score", "p_value", "account", "account_p_value"}
PY

# Harvest-aware verify: positions chosen from what the account was sent (the first
# half of its answers), scored on other text (the second half, and clean text).
python3 - marked.jsonl "$DATA" <<'PY'
import json, sys
marked = open(sys.argv[1]).read().splitlines(); clean = open(sys.argv[2]).read().splitlines()
half = len(marked) // 2
open("received.jsonl", "w").write("\n".join(marked[:half]) + "\n")
for name, lines in (("suspect.txt", marked[half:]), ("clean-half.txt", clean[half:])):
    open(name, "w").write("\n\n".join(json.loads(l)["response"] for l in lines) + "\n")
PY
out=$("$DG_BIN" verify --master-key-file master --accounts accounts --received received.jsonl --min-count 1 \
  --format json suspect.txt clean-half.txt)
echo "$out"
python3 - "$out" <<'PY'
import json, sys
rows = [json.loads(l) for l in sys.argv[1].splitlines()]
assert rows[0]["account"] == "acct-17" and rows[0]["account_p_value"] < 1e-5, rows[0]
assert rows[1]["account"] is None and rows[1]["account_p_value"] > 1e-3, rows[1]
assert rows[0]["positions"] > 0 and rows[1]["positions"] > 0, rows
for r in rows:
    assert set(r) == {"file", "positions", "score", "p_value", "account", "account_p_value"}
PY
if "$DG_BIN" verify --master-key-file master --min-count 5 suspect.txt 2> err.txt; then
  echo "--min-count without --received must fail"; exit 1
fi
grep -q -- "--min-count needs --received" err.txt

# Evidence for a cluster from the audit log alone: a planted hydra (one prompt
# template, one client, accounts created in one burst) among human accounts is
# imported into an audit log; `evidence --cluster` by the id `audit export |
# analyze` gives it and by a member account both find analyze's members.
if "$DG_BIN" evidence --out x 2>/dev/null; then echo "evidence without subject must fail"; exit 1; fi
python3 - > hydra.jsonl <<'PY'
import json, random
from datetime import datetime, timezone
rnd = random.Random(5)
t0 = 1769947200.0
topics = ["Natalia sold clips to 48 of her friends in April, and half as many in May. How many clips in all?",
          "Write a python function to find the shared elements from two lists.",
          "Compose an engaging travel blog post about a recent trip to Hawaii.",
          "Explain how photosynthesis converts light energy into chemical energy.",
          "Write a JavaScript function that debounces another function.",
          "What is the capital of Australia and why was it chosen?"]
ts = lambda t: datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
recs = []
def rec(account, t, prompt, ip, ua, temp, created=None):
    r = {"ts": ts(t), "account": account, "ip": ip, "user_agent": ua, "endpoint": "/v1/chat/completions",
         "request": {"model": "teacher-1", "temperature": temp, "messages": [{"role": "user", "content": prompt}]},
         "response": {"usage": {"prompt_tokens": 40, "completion_tokens": 200}}, "status": 200, "action": "allow"}
    if created is not None: r["account_created"] = ts(created)
    recs.append((t, r))
for a in range(12):
    for i in range(25):
        p = ("You are helping build a dataset. Respond thoroughly and explain every step.\n\n" + rnd.choice(topics) +
             f" #{a * 100 + i}\n\nEnd your answer with a one-line summary of the final result.")
        rec(f"hydra_{a}", t0 + (a * 25 + i) * 7, p, f"203.0.{rnd.randrange(250)}.{rnd.randrange(250)}",
            "python-requests/2.31", 0.0, t0 - 3600 + a * 5)
for h in range(10):
    for i in range(10):
        rec(f"human_{h}", t0 + (h * 10 + i) * 31, rnd.choice(topics), f"198.51.{h * 7}.9", f"Mozilla/5.0 browser {h}", 1.0)
for _, r in sorted(recs, key=lambda x: x[0]):
    print(json.dumps(r))
PY
"$DG_BIN" audit --db audit.db append hydra.jsonl 2> /dev/null
"$DG_BIN" audit --db audit.db export 2> /dev/null | "$DG_BIN" analyze --input - --format json > analysis.json
read -r CID MEMBERS LONER < <(python3 - analysis.json <<'PY'
import json, sys
rep = json.load(open(sys.argv[1]))
cid = next(a["cluster"] for a in rep["accounts"] if a["account"] == "hydra_0")
assert cid, "analyze did not cluster the hydra"
members = next(c["accounts"] for c in rep["clusters"] if c["id"] == cid)
assert len(members) >= 10 and all(m.startswith("hydra_") for m in members), members
loner = next(a["account"] for a in rep["accounts"] if not a["cluster"])
print(cid, ",".join(sorted(members)), loner)
PY
)
for subject in "$CID" hydra_5; do
  rm -rf "bundle-$subject"
  "$DG_BIN" evidence --cluster "$subject" --audit-db audit.db --out "bundle-$subject" > "ev-$subject.out"
  got=$(python3 -c 'import json,sys; print(",".join(sorted(json.load(open(sys.argv[1]))["accounts"])))' "bundle-$subject/cluster.json")
  [ "$got" = "$MEMBERS" ] || { echo "evidence --cluster $subject: members $got, analyze says $MEMBERS"; exit 1; }
  grep -q "^cluster $CID " "ev-$subject.out" || { echo "evidence --cluster $subject output: $(cat "ev-$subject.out")"; exit 1; }
  [ "$(wc -l < "bundle-$subject/entries.jsonl")" -eq $((25 * $(echo "$MEMBERS" | tr ',' '\n' | wc -l))) ] || { echo "bundle entries"; exit 1; }
  (cd "bundle-$subject" && sha256sum --quiet -c SHA256SUMS && python3 check_chain.py . > /dev/null) || { echo "bundle does not check"; exit 1; }
done
if "$DG_BIN" evidence --cluster "$LONER" --audit-db audit.db --out bundle-x 2> ev-err.txt; then echo "a loner is no cluster"; exit 1; fi
grep -q "in no cluster" ev-err.txt || { echo "error: $(cat ev-err.txt)"; exit 1; }
echo "ok: evidence --cluster finds analyze's cluster $CID by id and by member"
echo OK
