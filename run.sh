#!/usr/bin/env bash
# Start GLM Playground on http://127.0.0.1:7020, creating .venv and installing on first use.
# Extra arguments go to streamlit, e.g. ./run.sh --server.address 0.0.0.0
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/streamlit ] || [ requirements.txt -nt .venv/.installed ] \
   || [ requirements-local.txt -nt .venv/.installed ]; then
  echo "Setting up .venv (first run only)…"
  "$PYTHON" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
  # torch first: 2.13.0 is the CPU build on disk here (CUDA from PyPI on a GPU server), so that
  # transformers and sentence-transformers do not pull another one.
  .venv/bin/python -c "import torch" 2>/dev/null || .venv/bin/python -m pip install -q "torch==${TORCH_VERSION:-2.13.0}"
  .venv/bin/python -m pip install -q -r requirements-local.txt
  touch .venv/.installed
fi
exec .venv/bin/streamlit run app.py "$@"
