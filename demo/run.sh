#!/usr/bin/env bash
# The demo: see README. Filled in as the gateway lands.
set -euo pipefail
cd "$(dirname "$0")/.."
./build/src/cli/distillguard version
