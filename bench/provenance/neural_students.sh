#!/usr/bin/env bash
# Neural students, one command: builds bench/provenance/neural (a separate CMake project against
# Debian libtorch-dev; `./dg deps libtorch-dev libopenblas0-openmp` or `./dg bench` installs it),
# trains the small transformer student on each training set (shares of watermarked harvest, clean,
# adaptive attacks), samples it, runs `distillguard verify`, prints the tables (neural_report.py),
# diagnoses why the 100% student is or is not attributed (diagnose.py: green rates at the watermark's
# positions by how often the student saw each (context, group) pair), then -- unless PROBE=0 --
# serves a neural student of a trace harvest and probes it for canaries.
# Needs the distillguard binary: ./dg build (build/src/cli/distillguard) or DG_BIN=...
# Every knob of neural_students.py is an environment variable (see its docstring).
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(cd ../.. && pwd)
export NS_BUILD=${NS_BUILD:-$ROOT/build-neural}
BUILD=$NS_BUILD
export DG_BIN=${DG_BIN:-$ROOT/build/src/cli/distillguard}
[ -x "$DG_BIN" ] || { echo "no distillguard binary at $DG_BIN: run ./dg build or set DG_BIN" >&2; exit 1; }
cmake -S neural -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release > /dev/null
nice -n 19 cmake --build "$BUILD"
export NS_BIN="$BUILD/neural_student"
python3 neural_students.py
# The 100% harvest again with 4x the fine-tuning (about one epoch).
NS_STUDENTS=wm100-long NS_STEPS=${NS_LONG_STEPS:-1200} NS_OUT="${DG_PROV_WORK:-/tmp/dg-provenance}/neural-long.json" \
  python3 neural_students.py
python3 neural_report.py "${DG_PROV_WORK:-/tmp/dg-provenance}"/neural-*.json
python3 diagnose.py wm100 clean-seed1 trigram:wm100
if [ "${PROBE:-1}" = 1 ]; then
  SERVER=neural_server.py ./probe_student.sh | tee "${DG_PROV_WORK:-/tmp/dg-provenance}/neural-probe.txt"
fi
