#!/usr/bin/env bash
# Start GLM Playground on http://127.0.0.1:7020, creating .venv and installing on first use.
# Extra arguments go to streamlit, e.g. ./run.sh --server.address 0.0.0.0
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/streamlit ] || [ requirements.txt -nt .venv/.installed ]; then
  echo "Setting up .venv (first run only)…"
  "$PYTHON" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -r requirements.txt
  touch .venv/.installed
fi
exec .venv/bin/streamlit run app.py "$@"
