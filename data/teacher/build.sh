#!/usr/bin/env bash
# Rebuilds data/teacher/teacher.jsonl from ../shared/datasets (see SOURCES.md).
set -euo pipefail
cd "$(dirname "$0")"
exec node build.mjs "$@"
