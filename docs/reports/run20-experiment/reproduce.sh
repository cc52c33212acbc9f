#!/usr/bin/env bash
# Rebuild the twentieth session's default model exactly (docs/default-model.md, "Twentieth session"):
# stages 1-2 are the seventeenth run's (trained in bf16 on corpus version 3), recovered from its
# shipped delta in this repository's history; the corpus (version 4), the label head over eleven
# tasks and stage 3 are scripts/train_default.sh's own stages. About 50 min on 2 cores in fp32
# (corpus 8, head 5, stage 3 35); bit for bit on the CPU it was made on (a 2-core AMD EPYC, AVX2,
# fp32: `precision: auto` there), within rounding elsewhere.
#   bash docs/reports/run20-experiment/reproduce.sh      # then: git diff --stat qwenlike/default_model
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
RUN=${RUN:-runs/default20}
mkdir -p "$RUN"
RUN=$RUN STAGES=corpus bash scripts/train_default.sh
if [ ! -f "$RUN/sft/checkpoint-650/config.json" ]; then  # stage 2 as the seventeenth run left it
  rm -rf "$RUN/run17" && mkdir -p "$RUN/run17"
  git archive 6ab2d7b qwenlike/default_model | tar -x -C "$RUN/run17"
  .venv/bin/python docs/reports/run19-experiment/split_stage2.py "$RUN/run17/qwenlike/default_model" "$RUN/sft/checkpoint-650"
fi
RUN=$RUN STAGES="head labels package" bash scripts/train_default.sh
