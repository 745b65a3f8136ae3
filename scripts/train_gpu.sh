#!/usr/bin/env bash
# One GPU training job end to end: render a simulated dataset, train, evaluate, write the card.
#
#   scripts/train_gpu.sh [NAME]        # defaults below; override any with environment variables
#   VIEWS=40000 EPOCHS=150 DEVICE=0 scripts/train_gpu.sh cctv-yolo11s-synth
#
# Every step is resumable: rerun the same command after an interruption (the dataset skips
# views already rendered, training resumes from runs/train/NAME/weights/last.pt).
set -euo pipefail

NAME="${1:-cctv-yolo11n-synth-gpu}"
CAMCENSUS="${CAMCENSUS:-camcensus}"              # or .venv/bin/camcensus
DATA_DIR="${DATA_DIR:-datasets/${NAME}}"         # dataset folder (not committed)
AREAS="${AREAS:-demo}"                           # training areas, space separated
VAL_AREAS="${VAL_AREAS:-}"                       # held-out areas (empty: held-out street blocks)
SIM_CAMERAS="${SIM_CAMERAS:-}"                   # one spec for all areas or one per area, space separated
VIEWS="${VIEWS:-20000}"                          # rendered 640 px views, train + val
LAYOUTS="${LAYOUTS:-4}"                          # simulated camera layouts per area (random:D specs)
MODEL="${MODEL:-yolo11n.yaml}"                   # architecture (from scratch) or a .pt to fine-tune
EPOCHS="${EPOCHS:-100}"
IMGSZ="${IMGSZ:-640}"                            # full views: no tiling needed on a large GPU
BATCH="${BATCH:-64}"                             # fits a 40-80 GB GPU at 640 px with yolo11n/s
DEVICE="${DEVICE:-0}"
WORKERS="${WORKERS:-8}"
SEED="${SEED:-0}"
OUT="${OUT:-models/${NAME}}"

area_args=(); for a in $AREAS; do area_args+=(--area "$a"); done
for a in $VAL_AREAS; do area_args+=(--val-area "$a"); done
for c in $SIM_CAMERAS; do area_args+=(--sim-cameras "$c"); done

echo "== dataset: ${VIEWS} views -> ${DATA_DIR}"
"$CAMCENSUS" dataset synth "${area_args[@]}" --views "$VIEWS" --layouts "$LAYOUTS" --seed "$SEED" \
    --out "$DATA_DIR"
"$CAMCENSUS" dataset check "$DATA_DIR"

echo "== train: ${MODEL} ${EPOCHS} epochs at ${IMGSZ} px on device ${DEVICE}"
"$CAMCENSUS" train --data "$DATA_DIR/data.yaml" --model "$MODEL" --epochs "$EPOCHS" --imgsz "$IMGSZ" \
    --batch "$BATCH" --device "$DEVICE" --workers "$WORKERS" --seed "$SEED" --out "$OUT"

echo "== evaluate on the held-out split"
"$CAMCENSUS" evaluate --model "$OUT.pt" --data "$DATA_DIR/data.yaml" --imgsz 640 --device "$DEVICE" \
    --json "$OUT.eval.json"
echo "== done: $OUT.pt and its card $OUT.md"
