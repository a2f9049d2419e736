#!/usr/bin/env bash
# Renders an accuracy set: the grouped corpus of benchmarks/corpus.py (every base face, both renderers,
# the default labels), seeds FIRST and up. Further options go to corpus.py (--faces, --renderers, --labels,
# --per-cell, --durations, --jobs, --real-faces); see docs/simulator.md for the held-out and development sets.
#   bash benchmarks/accuracy_set.sh OUT [FIRST] [options]   then   spasmscan evaluate OUT/<face>
set -euo pipefail
PY=${PYTHON:-python}
OUT=${1:-accuracy-set}; FIRST=${2:-20000}
shift $(( $# < 2 ? $# : 2 ))
exec "$PY" "$(dirname "$0")/corpus.py" "$OUT" --first-seed "$FIRST" "$@"
