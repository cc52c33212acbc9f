#!/usr/bin/env bash
# Rebuild the shipped default model's weights exactly (docs/default-model.md, "Reproduce"): stages 1-2
# are the seventeenth run's (trained in bf16 on corpus version 3), recovered from its shipped delta in
# this repository's history (commit 6ab2d7b); the corpus, the label head and stage 3 are
# scripts/train_default.sh's own stages, as this checkout has them. About an hour on 2 cores in fp32
# (corpus 9, head 7, stage 3 40); bit for bit on the CPU the weights were made on (a 2-core AMD
# EPYC, AVX2, fp32: `precision: auto` there), within rounding elsewhere. Resumes when rerun.
#   bash scripts/rebuild_default.sh      # then: git diff --stat qwenlike/default_model
# (scripts/train_default.sh trains stages 1-2 too: the next model, not these weights.)
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${RUN:-runs/default}
mkdir -p "$RUN"
RUN=$RUN STAGES=corpus bash scripts/train_default.sh
if [ ! -f "$RUN/sft/checkpoint-650/config.json" ]; then  # stage 2 as the seventeenth run left it
  rm -rf "$RUN/run17" && mkdir -p "$RUN/run17"
  git archive 6ab2d7b qwenlike/default_model | tar -x -C "$RUN/run17"
  .venv/bin/python docs/reports/run19-experiment/split_stage2.py "$RUN/run17/qwenlike/default_model" "$RUN/sft/checkpoint-650"
fi
RUN=$RUN STAGES="head labels package" bash scripts/train_default.sh
