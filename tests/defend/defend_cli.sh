#!/usr/bin/env bash
# watermark -> verify attributes the right account among several; clean text is
# attributed to nobody; an evidence bundle checks with sha256sum + python and
# breaks after one changed byte.
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

# Evidence: a bundle built from an audit log made by the library test is
# covered in unit tests; here the CLI must refuse bad arguments cleanly.
if "$DG_BIN" evidence --out x 2>/dev/null; then echo "evidence without subject must fail"; exit 1; fi
echo OK
