#!/usr/bin/env bash
# One GPU training job end to end: render a simulated dataset (or use one rendered beforehand),
# train, evaluate on the held-out split, write the card.
#
#   scripts/train_gpu.sh [NAME]        # defaults below; override any with environment variables
#   VIEWS=40000 EPOCHS=150 DEVICE=0 scripts/train_gpu.sh cctv-yolo11s-synth
#
# Inside one 10-minute call on a lent GPU machine (the device tool), render on this machine
# first (`camcensus dataset synth ... --out datasets/NAME`, e.g. with scripts/train_cpu.sh's
# settings), carry datasets/NAME and .venv, and give the run a time budget:
#
#   DATA_DIR=datasets/r12 HOURS=0.12 FROM=models/cctv-yolo11n-synth.pt scripts/train_gpu.sh cctv-yolo11n-gpu
#
# An existing DATA_DIR/data.yaml is used as it is (no rendering); its train_args.yaml (scale
# augmentation that never shrinks a camera below 4 px, crop size) is passed to training.
# Every step is resumable: rerun the same command after an interruption (the dataset skips
# views already rendered, training resumes from runs/train/NAME/weights/last.pt).
#
# This script WRITES A MODEL CARD: `evaluate --update-card` puts the held-out figures into
# OUT.md (a card fresh from `train` takes DATA_DIR's val split as its held-out set;
# NEW_HELD_OUT=1 adds --new-held-out, to re-evaluate an existing card on another set, which the
# card records). The figures also go to DATA_DIR/NAME.eval.json (never into models/).
set -euo pipefail

NAME="${1:-cctv-yolo11n-synth-gpu}"
CAMCENSUS="${CAMCENSUS:-camcensus}"              # or .venv/bin/camcensus
PYTHON="${PYTHON:-python}"                       # or .venv/bin/python
DATA_DIR="${DATA_DIR:-datasets/${NAME}}"         # dataset folder (not committed)
AREAS="${AREAS:-demo}"                           # training areas, space separated
VAL_AREAS="${VAL_AREAS:-}"                       # held-out areas (empty: held-out street blocks)
SIM_CAMERAS="${SIM_CAMERAS:-}"                   # one spec for all areas or one per area, space separated
VIEWS="${VIEWS:-20000}"                          # rendered 640 px views, train + val
LAYOUTS="${LAYOUTS:-4}"                          # simulated camera layouts per area (random:D specs)
TILE="${TILE:-}"                                 # crop size for train views (empty: whole 640 px views)
RANDOM_LOOK="${RANDOM_LOOK:-0.6}"                # share of train views in the renderer's random look (issue 28)
PHOTOMETRIC="${PHOTOMETRIC:-0.5}"                # share of train crops with haze/cast/lowres/blur/noise/JPEG
MODEL="${MODEL:-${FROM:-yolo11n.yaml}}"          # architecture (from scratch) or a .pt to fine-tune
EPOCHS="${EPOCHS:-100}"
HOURS="${HOURS:-}"                               # time budget (fits the epochs to it); empty: EPOCHS
IMGSZ="${IMGSZ:-}"                               # default: the dataset's train_args.yaml imgsz, else 640
BATCH="${BATCH:-64}"                             # fits a 40-80 GB GPU at 640 px with yolo11n/s
DEVICE="${DEVICE:-0}"
WORKERS="${WORKERS:-8}"
SEED="${SEED:-0}"
OUT="${OUT:-models/${NAME}}"
NEW_HELD_OUT="${NEW_HELD_OUT:-}"                 # 1: this data becomes the card's held-out set
card_args=(--update-card); [[ -n "$NEW_HELD_OUT" ]] && card_args+=(--new-held-out)

if [[ -f "$DATA_DIR/data.yaml" ]]; then
    echo "== dataset: using ${DATA_DIR} as rendered"
else
    area_args=(); for a in $AREAS; do area_args+=(--area "$a"); done
    for a in $VAL_AREAS; do area_args+=(--val-area "$a"); done
    for c in $SIM_CAMERAS; do area_args+=(--sim-cameras "$c"); done
    tile_args=(); [[ -n "$TILE" ]] && tile_args=(--tile "$TILE" --away 0.3 --decoys 0.8 --sky 0.15 --balance)
    echo "== dataset: ${VIEWS} views -> ${DATA_DIR}"
    "$CAMCENSUS" dataset synth "${area_args[@]}" --views "$VIEWS" --layouts "$LAYOUTS" --seed "$SEED" \
        --random-look "$RANDOM_LOOK" --photometric "$PHOTOMETRIC" "${tile_args[@]}" --out "$DATA_DIR"
fi
"$CAMCENSUS" dataset check "$DATA_DIR"

# the dataset's recommended ultralytics arguments (train_args.yaml), imgsz apart
mapfile -t train_args < <("$PYTHON" - "$DATA_DIR" <<'EOF'
import sys
from detector.yolo_dataset import read_train_args
for key, value in read_train_args(sys.argv[1]).items():
    print(f"imgsz={value}" if key == "imgsz" else f"--arg={key}={value}")
EOF
)
data_imgsz=640
args=()
for a in "${train_args[@]}"; do
    if [[ "$a" == imgsz=* ]]; then data_imgsz="${a#imgsz=}"; else args+=("$a"); fi
done
IMGSZ="${IMGSZ:-$data_imgsz}"
budget=(--epochs "$EPOCHS"); [[ -n "$HOURS" ]] && budget+=(--hours "$HOURS")

echo "== train: ${MODEL} at ${IMGSZ} px on device ${DEVICE} (${budget[*]}) ${args[*]}"
"$CAMCENSUS" train --data "$DATA_DIR/data.yaml" --model "$MODEL" "${budget[@]}" --imgsz "$IMGSZ" \
    --batch "$BATCH" --device "$DEVICE" --workers "$WORKERS" --seed "$SEED" --out "$OUT" "${args[@]}"

echo "== evaluate on the held-out split (full 640 px views) and write the card"
"$CAMCENSUS" evaluate --model "$OUT.pt" --data "$DATA_DIR/data.yaml" --imgsz 640 --device "$DEVICE" \
    "${card_args[@]}" --json "$DATA_DIR/$(basename "$OUT").eval.json"
echo "== done: $OUT.pt and its card $OUT.md (held-out figures written by --update-card)"
