#!/usr/bin/env bash
# Install what tests/test_web.py drives: Debian's Chromium (+ chromedriver) and Playwright for Python.
#
#   bash scripts/install_browser.sh       # as root (CI, dev machines); PYTHON=... to pick the interpreter
#
# Playwright is only the driver: it is pointed at /usr/bin/chromium (executable_path) and never
# downloads a browser (do NOT run `playwright install`). Idempotent: nothing is fetched when both are
# present. Quiet: one line per step; on a failure prints the tail of the tool's log and exits non-zero.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x "$ROOT/.venv/bin/python" ]]; then PYTHON="$ROOT/.venv/bin/python"; else PYTHON="$(command -v python3)"; fi
fi
PLAYWRIGHT="playwright==1.65.2"
LOG="$(mktemp -t qwenlike-browser.XXXXXX.log)"
fail() { echo "install_browser: $1 failed; last lines of $LOG:" >&2; tail -n 25 "$LOG" >&2; exit 1; }

missing=()
for p in chromium chromium-driver fonts-liberation fonts-dejavu-core; do  # fonts: readable screenshots without the GUI recommends
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  command -v apt-get >/dev/null 2>&1 || { echo "install_browser: no apt-get; install ${missing[*]} by hand" >&2; exit 1; }
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  start=$SECONDS
  $SUDO apt-get update -qq >>"$LOG" 2>&1 || fail "apt-get update"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >>"$LOG" 2>&1 \
    || fail "apt-get install ${missing[*]}"
  echo "install_browser: ${missing[*]} installed in $((SECONDS - start)) s"
else
  echo "install_browser: chromium, chromium-driver and fonts already installed"
fi

if "$PYTHON" -c "import importlib.metadata as m, sys; sys.exit(m.version('playwright') != '${PLAYWRIGHT#*==}')" 2>/dev/null; then
  echo "install_browser: $PLAYWRIGHT already installed"
else
  "$PYTHON" -m pip install -q --disable-pip-version-check "$PLAYWRIGHT" >>"$LOG" 2>&1 || fail "pip install $PLAYWRIGHT"
  echo "install_browser: $PLAYWRIGHT installed"
fi
rm -f "$LOG"
