#!/usr/bin/env bash
# Rebuild the twentieth session's default model exactly (docs/default-model.md, "Twentieth session"):
# stages 1-2 are the seventeenth run's (trained in bf16 on corpus version 3), recovered from its
# shipped delta in this repository's history; the corpus (version 4), the label head over eleven
# tasks and stage 3 are scripts/train_default.sh's own stages. About 50 min on 2 cores in fp32
# (corpus 8, head 5, stage 3 35); bit for bit on the CPU it was made on (a 2-core AMD EPYC, AVX2,
# fp32: `precision: auto` there), within rounding elsewhere.
#   bash docs/reports/run20-experiment/reproduce.sh      # then: git diff --stat qwenlike/default_model
# Since the twenty-first session train_default.sh trains the next model (a thirteen-task head, 198
# stage-3 steps), so this script stops there: run it in a checkout of fe4f8c9, e.g.
#   git worktree add /tmp/run20 fe4f8c9 && cd /tmp/run20 && bash scripts/setup.sh && bash docs/reports/run20-experiment/reproduce.sh
# (the shipped weights now: scripts/rebuild_default.sh).
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
echo "reproduce.sh: this checkout's train_default.sh is not the twentieth session's; run this script in a checkout of fe4f8c9 (see its header)" >&2
exit 1
# (the rest of this script, as it was: git show fe4f8c9:docs/reports/run20-experiment/reproduce.sh)
