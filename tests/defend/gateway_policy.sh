#!/usr/bin/env bash
# The policy stage in a live gateway in front of the replay upstream (real
# recorded answers): allow passes answers untouched; trace returns exactly what
# the watermark/canary library produces offline, streamed and not; reasoning is
# summarised; block answers 403 blocked_by_policy; records carry the action.
source "$DG_SOURCE_DIR/tests/lib/procs.sh"
"$DG_BIN" --help | grep -q '^  serve ' || { echo "SKIP: no serve command"; exit 77; }

"$DG_BIN" replay-upstream --listen 127.0.0.1:0 --data "$DG_SOURCE_DIR/data/teacher" \
  --model teacher-1 --model teacher-reasoning > "$DG_TMP/up.out" 2> "$DG_TMP/up.err" &
PIDS+=($!)
UP=$(wait_listening "$DG_TMP/up.out")
printf 'gateway-test-master\n' > "$DG_TMP/master"
cat > "$DG_TMP/cfg.toml" <<TOML
[server]
listen = "127.0.0.1:0"
[[upstream]]
name = "replay"
url = "http://$UP"
models = ["*"]
[storage]
sqlite_path = "$DG_TMP/dg.db"
[audit]
jsonl_path = "$DG_TMP/audit.jsonl"
[stages]
order = ["auth", "policy", "forward"]
[policy]
watermark_master_key_file = "$DG_TMP/master"
trace_watermark_strength = 1.0
[policy.accounts]
traced = "trace"
blocked = "block"
TOML
"$DG_BIN" serve --config "$DG_TMP/cfg.toml" > "$DG_TMP/gw.out" 2> "$DG_TMP/gw.err" &
PIDS+=($!)
GW=$(wait_listening "$DG_TMP/gw.out")
dg() { "$DG_BIN" "$1" --config "$DG_TMP/cfg.toml" "${@:2}"; }
for a in normal traced blocked; do dg accounts create "$a" > /dev/null; done
key() { dg keys create --account "$1" 2>/dev/null | sed -n 's/^secret: //p'; }
K_NORMAL=$(key normal); K_TRACED=$(key traced); K_BLOCKED=$(key blocked)
[ -n "$K_NORMAL" ] && [ -n "$K_TRACED" ] && [ -n "$K_BLOCKED" ] || fail "keys"

# A recorded definition-kind prompt whose answer the trace watermark changes.
python3 - "$DG_SOURCE_DIR/data/teacher/teacher.jsonl" > "$DG_TMP/cands.jsonl" <<'PY'
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["prompt"].lower().startswith("what is") and len(r["prompt"]) < 300:
        print(json.dumps({"prompt": r["prompt"], "response": r["response"]}))
PY
"$DG_BIN" watermark --master-key-file "$DG_TMP/master" --account traced --strength 1.0 --trace "$DG_TMP/cands.jsonl" \
  > "$DG_TMP/expected.jsonl" 2> /dev/null
python3 - "$DG_TMP/cands.jsonl" "$DG_TMP/expected.jsonl" "$DG_TMP" <<'PY'
import json, sys
raw = [json.loads(l) for l in open(sys.argv[1])]
exp = [json.loads(l) for l in open(sys.argv[2])]
for r, e in zip(raw, exp):
    a, b = r["response"].split(), e["response"].split()
    if sum(x != y for x, y in zip(a, b)) >= 1:
        json.dump({"prompt": r["prompt"], "raw": r["response"], "expected": e["response"]}, open(sys.argv[3] + "/case.json", "w"))
        break
else:
    sys.exit("no candidate prompt changed by the watermark")
PY

ask() {  # ask KEY STREAM MODEL -> content (and reasoning_content on fd 3 if any) in $DG_TMP/out.json
  python3 - "$DG_TMP/case.json" "$2" "$3" > "$DG_TMP/req.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
print(json.dumps({"model": sys.argv[3], "stream": sys.argv[2] == "1",
                  "messages": [{"role": "user", "content": c["prompt"]}]}))
PY
  curl -sS -N -o "$DG_TMP/resp.raw" -w '%{http_code}' "http://$GW/v1/chat/completions" \
    -H "Authorization: Bearer $1" -H 'content-type: application/json' --data-binary @"$DG_TMP/req.json"
}
content() {  # joins non-streamed or streamed content / reasoning_content
  python3 - "$DG_TMP/resp.raw" "$1" <<'PY'
import json, sys
raw, field = open(sys.argv[1]).read(), sys.argv[2]
if raw.lstrip().startswith("{"):
    print(json.loads(raw)["choices"][0]["message"].get(field) or "", end="")
else:
    out = ""
    for line in raw.splitlines():
        if line.startswith("data: ") and line[6:].strip() != "[DONE]":
            for ch in json.loads(line[6:]).get("choices", []):
                out += ch.get("delta", {}).get(field) or ""
    print(out, end="")
PY
}
field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]], end="")' "$DG_TMP/case.json" "$1"; }

code=$(ask "$K_NORMAL" 0 teacher-1); [ "$code" = 200 ] || fail "normal: $code"
[ "$(content content)" = "$(field raw)" ] || fail "allow changed the answer"
echo "ok: allow returns the recorded answer untouched"

code=$(ask "$K_TRACED" 0 teacher-1); [ "$code" = 200 ] || fail "traced: $code"
[ "$(content content)" = "$(field expected)" ] || fail "trace body differs from the library: $(content content | head -c 300)"
grep -q 'Some glossaries also file this under' "$DG_TMP/resp.raw" || fail "no canary"
echo "ok: trace body = offline watermark+canary, canary present"

code=$(ask "$K_TRACED" 1 teacher-1); [ "$code" = 200 ] || fail "traced stream: $code"
[ "$(content content)" = "$(field expected)" ] || fail "trace stream differs: $(content content | tail -c 300)"
echo "ok: trace streamed = non-streamed"

code=$(ask "$K_TRACED" 0 teacher-reasoning); [ "$code" = 200 ] || fail "reasoning: $code"
content reasoning_content | grep -q '^\[reasoning summary\] ' || fail "reasoning not summarised: $(head -c 400 "$DG_TMP/resp.raw")"
code=$(ask "$K_TRACED" 1 teacher-reasoning); [ "$code" = 200 ] || fail "reasoning stream: $code"
content reasoning_content | grep -q '^\[reasoning summary\] ' || fail "streamed reasoning not summarised"
echo "ok: reasoning summarised (body and stream)"

code=$(ask "$K_BLOCKED" 0 teacher-1); [ "$code" = 403 ] || fail "blocked: $code"
grep -q '"code":"blocked_by_policy"' "$DG_TMP/resp.raw" || fail "no reason code: $(cat "$DG_TMP/resp.raw")"
echo "ok: block -> 403 blocked_by_policy"

for _ in $(seq 1 100); do [ "$(grep -c '"account":"traced"' "$DG_TMP/audit.jsonl" 2>/dev/null || echo 0)" -ge 4 ] && break; sleep 0.05; done
python3 - "$DG_TMP/audit.jsonl" "$DG_TMP/case.json" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
acts = {(r["account"], r.get("action")) for r in recs}
assert ("traced", "trace") in acts and ("normal", "allow") in acts and ("blocked", "block") in acts, acts
assert any(n.get("stage") == "policy" for r in recs if r["account"] == "traced" for n in r.get("notes", [])), "no policy note"
# The record keeps what the client received (watermarked, canary included), streamed or not.
expected = json.load(open(sys.argv[2]))["expected"]
traced = [r for r in recs if r["account"] == "traced" and r["request"].get("model") == "teacher-1"]
assert len(traced) == 2, [r["request"] for r in traced]
for r in traced:
    got = r["response"]["choices"][0]["message"]["content"]
    assert got == expected, (r["request"].get("stream"), got[-200:], expected[-200:])
PY
echo "ok: records carry the action, the policy's reason and the text sent (body and stream)"

# Evidence bundle from the live audit log, checked with standard tools only.
# (The JSONL mirror is written after the SQLite commit, so the records are in; the canary
# registry writes on its own thread: poll, bounded.)
for _ in $(seq 1 50); do
  dg evidence --account traced --master-key-file "$DG_TMP/master" --out "$DG_TMP/bundle" > "$DG_TMP/ev.out" 2> "$DG_TMP/ev.err" \
    || fail "evidence: $(cat "$DG_TMP/ev.err")"
  grep -q '"signature"' "$DG_TMP/bundle/canaries.jsonl" && break
  sleep 0.1
done
grep -q "entries" "$DG_TMP/ev.out" || fail "evidence output: $(cat "$DG_TMP/ev.out")"
[ "$(wc -l < "$DG_TMP/bundle/entries.jsonl")" -ge 4 ] || fail "bundle has too few entries"
grep -q '"action":"trace"' "$DG_TMP/bundle/decisions.jsonl" || fail "no trace decision in bundle"
grep -q '"signature"' "$DG_TMP/bundle/canaries.jsonl" || fail "no canary planting in bundle"
(cd "$DG_TMP/bundle" && sha256sum --quiet -c SHA256SUMS && python3 check_chain.py . > /dev/null) || fail "fresh bundle does not check"
python3 - "$DG_TMP/bundle/entries.jsonl" <<'PY'
import sys
p = sys.argv[1]; b = bytearray(open(p, "rb").read())
i = b.index(b'"line":"') + 20
b[i] = ord("x") if b[i] != ord("x") else ord("y")
open(p, "wb").write(bytes(b))
PY
if (cd "$DG_TMP/bundle" && python3 check_chain.py . > /dev/null); then fail "chain check passed after a changed byte"; fi
if (cd "$DG_TMP/bundle" && sha256sum --quiet -c SHA256SUMS > /dev/null 2>&1); then fail "sha256sum passed after a changed byte"; fi
echo "ok: evidence bundle checks with sha256sum + python, and fails after one changed byte"
