#!/usr/bin/env bash
# Run every test (unit, fake-server, AppTest, browser) and the linter, setting up what they need:
# .venv with the dev requirements, and Debian's chromium for the browser tests.
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/pytest ] || [ requirements-dev.txt -nt .venv/.installed-dev ] \
   || [ requirements.txt -nt .venv/.installed-dev ] || [ requirements-local.txt -nt .venv/.installed-dev ]; then
  echo "Setting up .venv with test requirements…"
  "$PYTHON" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
  # torch first: 2.13.0 is the CPU build on disk here (CUDA from PyPI on a GPU server), so that
  # transformers and sentence-transformers do not pull another one.
  .venv/bin/python -c "import torch" 2>/dev/null || .venv/bin/python -m pip install -q "torch==${TORCH_VERSION:-2.13.0}"
  .venv/bin/python -m pip install -q -r requirements-dev.txt
  touch .venv/.installed-dev
fi
if [ ! -x /usr/bin/chromium ]; then
  echo "Installing Debian chromium (and a Chinese font for screenshots) for the browser tests…"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null
fi
.venv/bin/ruff check .
exec .venv/bin/python -m pytest "$@"
