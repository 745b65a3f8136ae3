#!/usr/bin/env bash
# One CPU training round end to end, meant to run in the background (nohup):
# render a simulated dataset with hard negatives, train with a time budget (bf16 where the CPU
# has it), then evaluate the new weights AND the weights it started from on the same held-out
# split, so that the round's note can give the before and after figures.
#
#   nohup scripts/train_cpu.sh cctv-yolo11n-r13 > train-r13.log 2>&1 &
#   HOURS=1.5 SEED=13 FROM=models/cctv-yolo11n-synth.pt scripts/train_cpu.sh cctv-yolo11n-r13
#   UNTIL=03:50 RANDOM_LOOK=0.6 HELD_OUT=heldout/default/data.yaml scripts/train_cpu.sh NAME
#
# The held-out split is whole areas that training never sees (VAL_AREAS). Every step resumes:
# rerun the same command after an interruption. New weights are written as models/NAME.pt + card;
# they replace the shipped default only by hand, and only when they score better on the held-out
# split (compare the two evaluation lines printed at the end).
#
# This script WRITES A MODEL CARD: `evaluate --update-card` puts the held-out figures into
# models/NAME.md (a card fresh from `train` takes this round's held-out split as its held-out set;
# NEW_HELD_OUT=1 adds --new-held-out, to re-evaluate an existing card on another set, which the
# card records). The weights it started from are only reported (no card changes). The figures
# also go to DATA_DIR/NAME.eval.json and DATA_DIR/NAME.before.json (never into models/).
set -euo pipefail

NAME="${1:-cctv-yolo11n-round}"
CAMCENSUS="${CAMCENSUS:-.venv/bin/camcensus}"
SEED="${SEED:-0}"                                   # a new seed every round: new layouts and views
DATA_DIR="${DATA_DIR:-datasets/${NAME}}"            # not committed
TEST_PBF="$(.venv/bin/python -c 'import pyrosm; print(pyrosm.get_data("test_pbf"))')"
AREAS="${AREAS:-demo demo demo}"                    # training areas (repeat one for several camera specs)
SIM_CAMERAS="${SIM_CAMERAS:-osm random:8 random:15 random:5:777}"  # per area, then per val area
VAL_AREAS="${VAL_AREAS:-$TEST_PBF}"                 # held out entirely
VIEWS="${VIEWS:-4600}"                              # rendered 640 px views, train + val
VAL_FRACTION="${VAL_FRACTION:-0.2174}"              # share of the views taken from VAL_AREAS
LAYOUTS="${LAYOUTS:-3}"
TILE="${TILE:-320}"                                 # native-scale crops
MINE="${MINE:-}"                                    # simulated survey folders of TRAINING areas to mine
DEFAULT_MODEL="$(.venv/bin/python -c 'from detector.registry import DEFAULT_MODEL; print(DEFAULT_MODEL)')"
FROM="${FROM:-models/${DEFAULT_MODEL}.pt}"          # warm start (or an architecture .yaml): the shipped model
HOURS="${HOURS:-1.0}"
UNTIL="${UNTIL:-}"                                  # HH:MM UTC: training ends by then (overrides HOURS; set at train start)
HELD_OUT="${HELD_OUT:-}"                            # a fixed held-out data.yaml to evaluate on (default: this round's val split)
BATCH="${BATCH:-16}"
PRECISION="${PRECISION:-auto}"
SMALL="${SMALL:-1.0}"                               # zoom-out crops per view with a 5-10 px camera (issue 21)
SMALL_DECOYS="${SMALL_DECOYS:-0.5}"                 # zoom-out crops around decoys: hard negatives of that size
PHOTOMETRIC="${PHOTOMETRIC:-0.5}"                   # share of crops with haze/cast/gamma/lowres/blur/noise/JPEG randomization
RANDOM_LOOK="${RANDOM_LOOK:-0.6}"                   # share of train views in the renderer's random look (issue 28)
RANDOMIZATION="${RANDOMIZATION:-1}"                 # 1: round 3's random look and jitter; 2: wider (docs/detector-randomization.md)
OUT="${OUT:-models/${NAME}}"
NEW_HELD_OUT="${NEW_HELD_OUT:-}"                    # 1: this data becomes the card's held-out set
card_args=(--update-card); [[ -n "$NEW_HELD_OUT" ]] && card_args+=(--new-held-out)

area_args=(); for a in $AREAS; do area_args+=(--area "$a"); done
for a in $VAL_AREAS; do area_args+=(--val-area "$a"); done
for c in $SIM_CAMERAS; do area_args+=(--sim-cameras "$c"); done
for m in $MINE; do area_args+=(--mine "$m"); done

if [[ -f "$DATA_DIR/data.yaml" && -z "${REBUILD_DATA:-}" ]]; then  # written last: the dataset is complete
    echo "== $(date -u +%H:%M:%S) dataset: ${DATA_DIR} is complete, reused (REBUILD_DATA=1 checks and completes it again)"
else
    echo "== $(date -u +%H:%M:%S) dataset: ${VIEWS} views -> ${DATA_DIR}"
    "$CAMCENSUS" dataset synth "${area_args[@]}" --views "$VIEWS" --val-fraction "$VAL_FRACTION" --layouts "$LAYOUTS" \
        --spacing 12 --tile "$TILE" --away 0.3 --decoys 0.8 --sky 0.15 --min-positive 0.6 --balance --seed "$SEED" \
        --small "$SMALL" --small-px 5:10 --small-decoys "$SMALL_DECOYS" --photometric "$PHOTOMETRIC" --random-look "$RANDOM_LOOK" --scale-floor 2.5 \
        --randomization "$RANDOMIZATION" \
        --out "$DATA_DIR"
fi
"$CAMCENSUS" dataset check "$DATA_DIR"

# the dataset's recommended ultralytics arguments (scale never shrinks a camera below 4 px, ...)
mapfile -t train_args < <(.venv/bin/python - "$DATA_DIR" <<'EOF'
import sys
from detector.yolo_dataset import read_train_args
for key, value in read_train_args(sys.argv[1]).items():
    if key != "imgsz":
        print(f"--arg={key}={value}")
EOF
)
if [[ -n "$UNTIL" ]]; then
    HOURS="$(.venv/bin/python -c "import sys; print(round(max(0.1, (int(sys.argv[2]) - int(sys.argv[1])) / 3600), 3))" \
        "$(date -u +%s)" "$(date -u -d "$UNTIL" +%s)")"
fi
echo "== $(date -u +%H:%M:%S) train: from ${FROM}, ${HOURS} h, ${PRECISION}, args ${train_args[*]}"
"$CAMCENSUS" train --data "$DATA_DIR/data.yaml" --model "$FROM" --hours "$HOURS" --epochs 200 --imgsz "$TILE" \
    --batch "$BATCH" --device cpu --dtype "$PRECISION" --seed "$SEED" --out "$OUT" \
    --arg val=False --arg warmup_epochs=1 "${train_args[@]}"

echo "== $(date -u +%H:%M:%S) evaluate on the held-out split (new: writes its card; then the weights it started from: a report)"
EVAL_DATA="${HELD_OUT:-$DATA_DIR/data.yaml}"
"$CAMCENSUS" evaluate --model "$OUT.pt" --data "$EVAL_DATA" --imgsz 640 --device cpu "${card_args[@]}" \
    --json "$DATA_DIR/$(basename "$OUT").eval.json" --plot "$DATA_DIR/$(basename "$OUT")-pr.png"
if [[ "$FROM" == *.pt && -z "${SKIP_BEFORE:-}" ]]; then  # SKIP_BEFORE=1: the weights it started from were measured already
    "$CAMCENSUS" evaluate --model "$FROM" --data "$EVAL_DATA" --imgsz 640 --device cpu \
        --json "$DATA_DIR/$(basename "$OUT").before.json" --plot "$DATA_DIR/before-pr.png"
fi
echo "== $(date -u +%H:%M:%S) done: $OUT.pt and its card $OUT.md (held-out figures written by --update-card)"
