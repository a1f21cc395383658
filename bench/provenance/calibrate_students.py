"""Calibration on student output: a clean student's 1M generated tokens tested against 300
different account keys. Under H0 (no key was used on its training data) the p-values over keys
must be uniform: ~1% below 0.01. (Different seeds of one clean student are one model, so their
p-values for a single key are correlated; many keys is the right check.)"""
import json
import os
import subprocess
import sys

import common

files = [os.path.join(common.WORK, f"student-clean-seed{s}-1000000.txt") for s in (1, 2, 3)]
accts = os.path.join(common.WORK, "calib-accounts.txt")
with open(accts, "w") as f:
    for i in range(300):
        f.write(f"calib-{i}\n")
ps = []
for i in range(300):
    out = subprocess.run([common.DG_BIN, "verify", "--master-key-file", common.MASTER, "--accounts", accts,
                          "--account", f"calib-{i}", "--format", "json"] + files,
                         capture_output=True, text=True, check=True).stdout
    ps += [json.loads(l)["p_value"] for l in out.splitlines()]
n = len(ps)
for a in (0.001, 0.01, 0.05, 0.1, 0.5):
    print(f"p<{a}: {100*sum(p < a for p in ps)/n:.2f}% of {n} (student, key) pairs")
