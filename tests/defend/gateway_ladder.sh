#!/usr/bin/env bash
# The policy ladder driven by risk thresholds in a live gateway (auth → policy →
# limit → forward) in front of the replay upstream, with the limit stage as the
# one limiter:
#   - throttle: the limit stage enforces throttle_multiplier of the tier's limits
#     (its 429 rate_limit_exceeded, Retry-After, x-ratelimit-limit-requests);
#   - degrade: the output length cap reaches the upstream (finish_reason length);
#     log-probabilities perturbed with argmax and text kept, deterministically;
#   - allow-list: a licensed account on a tier whose thresholds would degrade it
#     gets allow, its whole tier and untouched answers;
#   - the action is in every exchange record (JSONL mirror) and in the hash-chained
#     audit log (audit export), 429s included; the chain verifies.
# Risk is 0 here (no assess stage): per-tier thresholds of 0 put accounts on rungs.
source "$DG_SOURCE_DIR/tests/lib/procs.sh"
"$DG_BIN" --help | grep -q '^  serve ' || { echo "SKIP: no serve command"; exit 77; }

"$DG_BIN" replay-upstream --listen 127.0.0.1:0 --data "$DG_SOURCE_DIR/data/teacher" --model teacher-1 \
  > "$DG_TMP/up.out" 2> "$DG_TMP/up.err" &
PIDS+=($!)
UP=$(wait_listening "$DG_TMP/up.out")
printf 'ladder-test-master\n' > "$DG_TMP/master"
cat > "$DG_TMP/cfg.toml" <<TOML
[server]
listen = "127.0.0.1:0"
[[upstream]]
name = "replay"
url = "http://$UP"
models = ["*"]
[tiers.new]
requests_per_minute = 60
tokens_per_minute = 10000000
burst = 10
[tiers.suspect]
requests_per_minute = 60
tokens_per_minute = 10000000
burst = 10
[tiers.watched]
requests_per_minute = 240
tokens_per_minute = 10000000
burst = 10
[limits]
default_tier = "new"
[storage]
sqlite_path = "$DG_TMP/dg.db"
[audit]
jsonl_path = "$DG_TMP/audit.jsonl"
[stages]
order = ["auth", "policy", "limit", "forward"]
[policy]
watermark_master_key_file = "$DG_TMP/master"
throttle_multiplier = 0.25
max_tokens_cap = 16
allow_accounts = ["licensed"]
[policy.thresholds.suspect]
throttle = 0.0
degrade = 2.0
trace = 2.0
block = 2.0
[policy.thresholds.watched]
throttle = 0.0
degrade = 0.0
trace = 2.0
block = 2.0
TOML
"$DG_BIN" serve --config "$DG_TMP/cfg.toml" > "$DG_TMP/gw.out" 2> "$DG_TMP/gw.err" &
PIDS+=($!)
GW=$(wait_listening "$DG_TMP/gw.out")
dg() { "$DG_BIN" "$1" --config "$DG_TMP/cfg.toml" "${@:2}"; }
dg accounts create normal --tier new > /dev/null
dg accounts create throttled --tier suspect > /dev/null
dg accounts create degraded --tier watched > /dev/null
dg accounts create licensed --tier watched > /dev/null
declare -A KEY
for a in normal throttled degraded licensed; do
  KEY[$a]=$(dg keys create --account "$a" 2>/dev/null | sed -n 's/^secret: //p')
  [ -n "${KEY[$a]}" ] || fail "no key for $a"
done

# A recorded prompt with a long answer (well over the 16-token cap).
python3 - "$DG_SOURCE_DIR/data/teacher/teacher.jsonl" > "$DG_TMP/case.json" <<'PY'
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if len(r["response"].split()) > 80 and len(r["prompt"]) < 300:
        print(json.dumps({"prompt": r["prompt"], "response": r["response"]}))
        break
PY
python3 - "$DG_TMP/case.json" > "$DG_TMP/req.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
print(json.dumps({"model": "teacher-1", "max_tokens": 4000, "messages": [{"role": "user", "content": c["prompt"]}]}))
PY
ask() {  # ask ACCOUNT N -> "code code ..." (stops at the first 429); last response/headers in last-ACCOUNT.{json,h}
  local codes=""
  for _ in $(seq 1 "$2"); do
    codes+="$(curl -sS -D "$DG_TMP/resp.h" -o "$DG_TMP/resp.json" -w '%{http_code}' "http://$GW/v1/chat/completions" \
      -H "Authorization: Bearer ${KEY[$1]}" -H 'content-type: application/json' --data-binary @"$DG_TMP/req.json") "
    cp "$DG_TMP/resp.h" "$DG_TMP/last-$1.h"; cp "$DG_TMP/resp.json" "$DG_TMP/last-$1.json"
    case "$codes" in *"429 ") break ;; esac
  done
  echo "${codes% }"
}
hdr() { tr -d '\r' < "$DG_TMP/last-$1.h" | awk -v k="$(echo "$2" | tr 'A-Z' 'a-z')" -F': ' 'tolower($1) == k {print $2}'; }
answer() { python3 -c 'import json,sys; m=json.load(open(sys.argv[1]))["choices"][0]; print(m["finish_reason"], json.dumps(m["message"]["content"]))' "$DG_TMP/last-$1.json"; }

# normal (allow): 6 quick requests within the tier (60 rpm, burst 10 s = 10 at once).
codes=$(ask normal 6)
[ "$codes" = "200 200 200 200 200 200" ] || fail "normal refused: $codes"
[ "$(hdr normal x-ratelimit-limit-requests)" = 60 ] || fail "normal limit header: $(hdr normal x-ratelimit-limit-requests)"
raw=$(python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["response"]))' "$DG_TMP/case.json")
[ "$(answer normal)" = "stop $raw" ] || fail "allow changed the answer: $(answer normal | head -c 200)"
echo "ok: allow: whole tier (60 rpm), answer untouched"

# throttled: a quarter of the tier (15 rpm, burst 10 s = 2.5 at once) -> the limit stage's 429.
codes=$(ask throttled 12)
n_throttled=$(echo "$codes" | wc -w)
n200=$(echo "$codes" | tr ' ' '\n' | grep -c '^200$' || true)
case "$codes" in *429) ;; *) fail "throttled never refused: $codes" ;; esac
# ~3 at once; a slow machine may regain one slot per 4 s between requests.
[ "$n200" -ge 1 ] && [ "$n200" -le 6 ] || fail "throttled admitted $n200 before the 429 ($codes)"
grep -q '"code":"rate_limit_exceeded"' "$DG_TMP/last-throttled.json" || fail "429 body: $(cat "$DG_TMP/last-throttled.json")"
[ "$(hdr throttled x-ratelimit-limit-requests)" = 15 ] || fail "throttled limit header: $(hdr throttled x-ratelimit-limit-requests)"
[ -n "$(hdr throttled retry-after)" ] && [ -n "$(hdr throttled retry-after-ms)" ] || fail "no Retry-After on the 429: $(cat "$DG_TMP/last-throttled.h")"
echo "ok: throttle: $n200 admitted, then the limit stage's 429 at 15 rpm (60 x 0.25) with Retry-After"

# degraded: max_tokens 4000 capped to 16 on the way to the upstream.
codes=$(ask degraded 1)
[ "$codes" = 200 ] || fail "degraded: $codes"
read -r finish _ <<< "$(answer degraded)"
ct=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["usage"]["completion_tokens"])' "$DG_TMP/last-degraded.json")
[ "$finish" = length ] && [ "$ct" -le 16 ] || fail "degrade cap not applied: finish $finish, completion_tokens $ct"
[ "$(hdr degraded x-ratelimit-limit-requests)" = 60 ] || fail "degrade is throttled too: $(hdr degraded x-ratelimit-limit-requests)"
echo "ok: degrade: output capped (finish_reason length, $ct completion tokens <= 16), limits x0.25 (60 of 240 rpm)"

# degrade perturbs log-probabilities: same sampled tokens and top alternative as the
# untouched answer (normal, allow), other alternatives changed, the same numbers when asked again.
python3 - "$DG_TMP/req.json" > "$DG_TMP/req-lp.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); r.update(max_tokens=16, logprobs=True, top_logprobs=5)
print(json.dumps(r))
PY
cp "$DG_TMP/req.json" "$DG_TMP/req-plain.json"; cp "$DG_TMP/req-lp.json" "$DG_TMP/req.json"
[ "$(ask normal 1)" = 200 ] && cp "$DG_TMP/last-normal.json" "$DG_TMP/lp-normal.json" || fail "normal logprobs request"
[ "$(ask degraded 1)" = 200 ] && cp "$DG_TMP/last-degraded.json" "$DG_TMP/lp-degraded-1.json" || fail "degraded logprobs request"
[ "$(ask degraded 1)" = 200 ] && cp "$DG_TMP/last-degraded.json" "$DG_TMP/lp-degraded-2.json" || fail "degraded logprobs request 2"
cp "$DG_TMP/req-plain.json" "$DG_TMP/req.json"
python3 - "$DG_TMP/lp-normal.json" "$DG_TMP/lp-degraded-1.json" "$DG_TMP/lp-degraded-2.json" <<'PY' || fail "log-prob perturbation"
import json, sys
lp = lambda f: json.load(open(f))["choices"][0]["logprobs"]["content"]
clean, a, b = lp(sys.argv[1]), lp(sys.argv[2]), lp(sys.argv[3])
assert clean and len(a) == len(clean), (len(clean), len(a))
assert a == b, "not deterministic"
moved = 0
for c, p in zip(clean, a):
    assert c["token"] == p["token"], (c["token"], p["token"])                    # text unchanged
    assert c["top_logprobs"][0] == p["top_logprobs"][0], (c, p)                 # argmax and its value kept
    moved += [t["logprob"] for t in c["top_logprobs"][1:]] != [t["logprob"] for t in p["top_logprobs"][1:]]
assert moved >= len(a) // 2, f"alternatives changed at only {moved} of {len(a)} positions"
print(f"log-probs: {len(a)} positions, argmax kept everywhere, alternatives changed at {moved}")
PY
echo "ok: degrade perturbs log-probs (argmax and text kept, alternatives changed, deterministic)"

# licensed: allow-listed on a tier whose thresholds degrade everyone else.
codes=$(ask licensed 6)
[ "$codes" = "200 200 200 200 200 200" ] || fail "licensed refused: $codes"
[ "$(answer licensed)" = "stop $raw" ] || fail "licensed answer changed: $(answer licensed | head -c 200)"
[ "$(hdr licensed x-ratelimit-limit-requests)" = 240 ] || fail "licensed limit header: $(hdr licensed x-ratelimit-limit-requests)"
echo "ok: allow-list: licensed account gets allow, its whole tier (240 rpm) and untouched answers"

# Every record carries the action, in the JSONL mirror and in the audit log.
for _ in $(seq 1 100); do
  [ "$(wc -l < "$DG_TMP/audit.jsonl" 2>/dev/null || echo 0)" -ge $((7 + n_throttled + 3 + 6)) ] && break; sleep 0.05
done
dg audit export --out "$DG_TMP/export.jsonl" 2> /dev/null
dg audit verify > "$DG_TMP/verify.out" || fail "audit verify: $(cat "$DG_TMP/verify.out")"
for f in audit.jsonl export.jsonl; do
  python3 - "$DG_TMP/$f" <<'PY' || fail "records in $f"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
want = {"normal": "allow", "throttled": "throttle", "degraded": "degrade", "licensed": "allow"}
seen = {}
for r in recs:
    assert "action" in r, ("record without action", r.get("account"), r.get("status"))
    assert r["action"] == want[r["account"]], (r["account"], r["action"], r.get("status"))
    seen.setdefault(r["account"], []).append(r["status"])
assert sorted(seen) == sorted(want), seen
assert 429 in seen["throttled"] and 200 in seen["throttled"], seen["throttled"]
notes = [n for r in recs if r["account"] == "throttled" for n in r.get("notes", [])]
assert any(n["stage"] == "policy" and "limits x0.25" in n["note"] for n in notes), notes
assert any(n["stage"] == "limit" for n in notes), notes
lic = [n["note"] for r in recs if r["account"] == "licensed" for n in r.get("notes", []) if n["stage"] == "policy"]
assert lic and all("allow-listed" in n for n in lic), lic
PY
done
echo "ok: every exchange record (JSONL and the hash-chained audit log) carries its action, 429s included; chain verifies"
