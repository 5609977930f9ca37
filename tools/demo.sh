#!/usr/bin/env bash
# `make demo`: the main job end to end on the embedded default synthetic data, offline, on a CPU:
#   1. draw the default dataset (once; reused after),  2. audit it,  3. train ResNet50 (weights auto: ImageNet when
#   the torch hub cache holds them, else random init, said and recorded),  4. evaluate on the held-out test split
#   with Grad-CAM and write the report.  Re-running reuses the data and a finished run, and resumes an interrupted one.
# Settings (env): DEMO (folder, default demo), DEMO_EPOCHS, DEMO_SIZE, DEMO_BATCH, DEMO_AUGMENT, DEMO_WEIGHTS, DEMO_SEED.
set -euo pipefail
cd "$(dirname "$0")/.."
DEMO=${DEMO:-demo}
SX=${SX:-.venv/bin/scoliosis-xray}
EPOCHS=${DEMO_EPOCHS:-6}
SIZE=${DEMO_SIZE:-192x64}        # a tall input at a CPU-friendly size (full-spine films are about 3:1)
BATCH=${DEMO_BATCH:-16}
AUGMENT=${DEMO_AUGMENT:-0.5}     # milder than the default: blur and noise are in input pixels, and these are few
WEIGHTS=${DEMO_WEIGHTS:-auto}
SEED=${DEMO_SEED:-0}             # training seed (splits, initialisation, shuffling); the data are always drawn with seed 0
t0=$SECONDS
step() { printf '\n== %s  (%ds)\n' "$1" $((SECONDS - t0)); }

step "1/4  synthetic data: $DEMO/data"
$SX synth --out "$DEMO/data" --seed 0
step "2/4  audit: $DEMO/run/audit.json"
mkdir -p "$DEMO/run"
$SX audit "$DEMO/data" --json "$DEMO/run/audit.json" --cache "$DEMO/cache"
step "3/4  train ResNet50 ($SIZE input, $EPOCHS epochs, weights $WEIGHTS): $DEMO/run"
if [ -f "$DEMO/run/config.json" ]; then
  $SX train --resume "$DEMO/run"
else
  $SX train --data "$DEMO/data" --out "$DEMO/run" --epochs "$EPOCHS" --image-size "$SIZE" --batch-size "$BATCH" \
    --augment "$AUGMENT" --weights "$WEIGHTS" --cache "$DEMO/cache" --seed "$SEED"
fi
step "4/4  evaluate on the held-out test split: $DEMO/run/eval"
$SX evaluate --run "$DEMO/run"
printf '\n== done in %ds\n' $((SECONDS - t0))
cat <<TXT
  data:        $DEMO/data            (labels.csv, landmarks.csv)
  audit:       $DEMO/run/audit.json
  run:         $DEMO/run             (config.json, metrics.json, checkpoints/best.pt)
  metrics:     $DEMO/run/eval/metrics.json
  report:      $DEMO/run/eval/report.html
  TensorBoard: .venv/bin/tensorboard --logdir $DEMO/run/tb     (then open http://localhost:6006)
TXT
