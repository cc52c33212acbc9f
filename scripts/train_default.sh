#!/usr/bin/env bash
# Reproduce the default model (docs/default-model.md) from nothing but installed packages:
# the offline corpus, stage 1 (CTC alignment of the adapter), stage 2 (LoRA instruction tuning), the
# packaged delta (qwenlike/default_model) and its core-suite evaluation. About 2 hours on 2 CPU cores
# with bf16 (AVX512-BF16 or AMX; corpus 7 min, stage 1 15 min, stage 2 95 min; then eval 6 min);
# about 3.5 hours where only fp32 is fast.
# Every step resumes: rerun the script after an interruption and it picks up where it stopped.
#   bash scripts/train_default.sh            # everything
#   STAGES="package eval" bash scripts/train_default.sh
# Needs: bash scripts/setup.sh (base models included) and bash scripts/install_assets.sh (corpus sources).
set -euo pipefail
cd "$(dirname "$0")/.."
Q=${QWENLIKE:-.venv/bin/qwenlike}
RUN=${RUN:-runs/default}
STAGES=${STAGES:-corpus ctc sft package eval}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
has() { [[ " $STAGES " == *" $1 "* ]]; }

if has corpus; then  # sizes: the tasks the model is judged on get more items (and bigger test splits)
  $Q corpus build --out "$RUN/corpus" --seed 0 --sizes 60,5,10 \
    --task-size asr=6000,10,60 --task-size language_id=800,10,40 --task-size speaker_gender=600,10,40 \
    --task-size sound_event=1000,10,40 --task-size instrument=600,10,40 --task-size voice_chat=600,5,10
fi
if has ctc; then  # stage 1: the adapter alone, by CTC against the LM's embedding table
  $Q train recipes/default-ctc.yaml output_dir="$RUN/ctc" data.corpus="$RUN/corpus" --resume
fi
if has sft; then
  $Q train recipes/default-sft.yaml output_dir="$RUN/sft" data.corpus="$RUN/corpus" \
    model.path="$RUN/ctc/checkpoint-500" --resume
fi
if has package; then  # what ships: config, tokenizer and the trained weights (projector + LoRA) in fp16
  .venv/bin/python -c "import sys; from qwenlike.checkpoint import pack_delta; pack_delta(sys.argv[1], sys.argv[2])" \
    "$RUN/sft/checkpoint-840" qwenlike/default_model
  cp "$RUN/corpus/label_sets.json" qwenlike/default_model/  # classify --task finds the labels it learnt
  du -sh qwenlike/default_model
fi
if has eval; then  # the model as it ships; the report lives beside its model card
  $Q eval --suite core --corpus "$RUN/corpus" --model default --out "${REPORT:-docs/reports/default-core}"
fi
