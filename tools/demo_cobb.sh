#!/usr/bin/env bash
# `make demo-cobb`: measuring the spine end to end on the embedded default synthetic data, offline, on a CPU:
#   1. draw the default dataset (once; shared with `make demo`),  2. train the vertebra-landmark model (weights auto),
#   3. evaluate the measured Cobb angles on the held-out test films (and, when `make demo` has made the classifier run,
#   compare the largest angle with the classifier on the classifier's test films),  4. measure a few films with
#   overlays.  Re-running reuses the data and a finished run, and resumes an interrupted one.
# Settings (env): DEMO (folder, default demo), COBB_EPOCHS, COBB_SIZE, COBB_BATCH, COBB_WEIGHTS, COBB_SEED,
#   COBB_REFINE_EPOCHS (the vertebra refiner's epochs; default 0 here, to keep the demo short).
set -euo pipefail
cd "$(dirname "$0")/.."
DEMO=${DEMO:-demo}
SX=${SX:-.venv/bin/scoliosis-xray}
EPOCHS=${COBB_EPOCHS:-8}
SIZE=${COBB_SIZE:-384x192}       # the CPU recommendation for a demo; the default for real films is 512x256
BATCH=${COBB_BATCH:-8}
WEIGHTS=${COBB_WEIGHTS:-auto}
SEED=${COBB_SEED:-0}
t0=$SECONDS
step() { printf '\n== %s  (%ds)\n' "$1" $((SECONDS - t0)); }

step "1/4  synthetic data: $DEMO/data"
$SX synth --out "$DEMO/data" --seed 0
step "2/4  train the landmark model ($SIZE input, $EPOCHS epochs, weights $WEIGHTS): $DEMO/cobb"
if [ -f "$DEMO/cobb/config.json" ]; then
  $SX cobb train --resume "$DEMO/cobb"
else
  $SX cobb train --data "$DEMO/data" --out "$DEMO/cobb" --epochs "$EPOCHS" --image-size "$SIZE" --batch-size "$BATCH" \
    --weights "$WEIGHTS" --cache "$DEMO/cache" --seed "$SEED" --refine-epochs "${COBB_REFINE_EPOCHS:-0}"
fi
step "3/4  evaluate the measurement on the held-out test films: $DEMO/cobb/eval-cobb-test"
if [ -f "$DEMO/run/checkpoints/best.pt" ]; then
  $SX cobb evaluate --run "$DEMO/cobb" --compare "$DEMO/run" --overwrite
else
  $SX cobb evaluate --run "$DEMO/cobb" --overwrite
fi
step "4/4  measure new films (drawn with another seed, never seen in training) with overlays: $DEMO/cobb-predict"
$SX synth --out "$DEMO/new-films" --n 6 --seed 123
$SX cobb predict --checkpoint "$DEMO/cobb/checkpoints/best.pt" "$DEMO/new-films" \
  --out "$DEMO/cobb-predict/cobb.csv" --overlay "$DEMO/cobb-predict/overlays" --overwrite --quiet
printf '\n== done in %ds\n' $((SECONDS - t0))
cat <<TXT
  run:         $DEMO/cobb              (config.json, metrics.json, checkpoints/best.pt)
  evaluation:  $DEMO/cobb/eval-cobb-test/report.md   (metrics.json, measurements.csv, Bland-Altman and other figures)
  measured:    $DEMO/cobb-predict/cobb.csv, overlays in $DEMO/cobb-predict/overlays
  TensorBoard: .venv/bin/tensorboard --logdir $DEMO/cobb/tb     (then open http://localhost:6006)
TXT
