"""The operating point, chosen with the backend (issue 28): recall by size band per CPU-second.

    python -m scripts.bench.operating_point --model cctv-yolo11n-synth2 --data HELDOUT/default/data.yaml \\
        --calib TRAIN_IMAGES_DIR --work DIR [--speed-images 150] [--rounds 2] [--json OUT.json]

Combinations of runtime (ultralytics ``.pt`` through the engine's torch backend, ONNX Runtime,
OpenVINO), number format (fp32, bf16, int8: ONNX Runtime static QDQ quantization of the convolutions, per-channel
weights, calibrated on ``--calib`` training-look images, never the held-out set) and input size
(640, 800, 960). For each:

- throughput: ``camcensus detect`` (``detector.detect.detect_images``, as a survey runs it) on the
  first ``--speed-images`` views of the held-out set, every combination in turn, ``--rounds`` times
  round robin, best images/s kept; the ratio to today's default (``.pt``, auto precision = bf16 on
  this CPU, 640 px) is measured in the same run;
- accuracy (the baseline, every combination within the speed floor, and ``--recall`` extras): recall by box size
  (6-8, 8-16, > 16, >= 8 px) and false detections per image on the whole held-out split at the
  card's threshold, with CPU ms per image.

The default operating point is the combination with the best >= 8 px recall (then 6-8 px) whose
throughput ratio is at least 0.9. Run it in the heavy queue (nothing else running).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import detector  # noqa: F401  (offline ultralytics before importing it)

BASELINE = "pt:auto:640"
COMBOS = ["pt:auto:640", "pt:fp32:640", "pt:auto:800", "pt:auto:960",
          "onnx:fp32:640", "onnx:fp32:800", "onnx:int8:640", "onnx:int8:800", "onnx:int8:960",
          "openvino:fp32:640", "openvino:bf16:640", "openvino:bf16:800", "openvino:bf16:960"]


def parse_combo(text: str) -> tuple[str, str, int]:
    backend, fmt, size = text.split(":")
    return backend, fmt, int(size)


def prepare_exports(model_name: str, work: Path, *, calib: Path | None, n_calib: int = 64) -> dict[str, Any]:
    """ONNX (dynamic shape), OpenVINO and, with ``calib``, an ONNX int8 copy, cached in ``work``;
    returns backend/format -> ResolvedModel (all carrying the source's card)."""
    from detector.export import export_model
    from detector.registry import ResolvedModel, resolve_model

    source = resolve_model(model_name)
    models = {"pt": source}
    onnx_path = work / f"{source.model_id}.onnx"
    if not onnx_path.is_file():
        export_model(source, format="onnx", out=onnx_path)
    models["onnx"] = ResolvedModel(onnx_path, "onnx", source.card, source.model_id, source.card_path)
    ov_path = work / f"{source.model_id}_openvino_model"
    if not ov_path.is_dir():
        export_model(source, format="openvino", out=ov_path)
    models["openvino"] = ResolvedModel(ov_path, "openvino", source.card, source.model_id, source.card_path)
    if calib is not None:
        int8 = work / f"{source.model_id}.int8.onnx"
        if not int8.is_file():
            quantize_onnx(onnx_path, int8, calib, n=n_calib)
        models["onnx-int8"] = ResolvedModel(int8, "onnx", source.card, source.model_id, source.card_path)
    return models


def quantize_onnx(source: Path, out: Path, calib: Path, *, n: int = 64, imgsz: int = 640) -> Path:
    """Static int8 quantization (QDQ, per-channel weights, u8 activations) with ONNX Runtime,
    activation ranges from ``n`` letterboxed images of the folder ``calib``."""
    import cv2
    import numpy as np
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    from detector.engine import letterbox

    paths = sorted(Path(calib).glob("*.jpg"))[:: max(1, len(list(Path(calib).glob("*.jpg"))) // n)][:n]
    if not paths:
        raise SystemExit(f"no calibration images in {calib}")

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            import onnxruntime as ort

            self.name = ort.InferenceSession(str(source), providers=["CPUExecutionProvider"]).get_inputs()[0].name
            self.items = iter(paths)

        def get_next(self):
            path = next(self.items, None)
            if path is None:
                return None
            pixels, _, _ = letterbox(cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB), imgsz)
            return {self.name: (pixels.transpose(2, 0, 1)[None].astype(np.float32) / 255.0)}

    import onnx

    tmp = out.with_suffix(".tmp.onnx")
    quantize_static(str(source), str(tmp), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    nodes_to_exclude=head_decoding_nodes(onnx.load(str(source), load_external_data=False)))

    model = onnx.load(str(tmp))
    meta = {p.key: p.value for p in onnx.load(str(source), load_external_data=False).metadata_props}
    have = {p.key for p in model.metadata_props}
    for key, value in meta.items():  # names, imgsz and the model id, as in the fp32 export
        if key not in have:
            entry = model.metadata_props.add()
            entry.key, entry.value = key, value
    onnx.save(model, str(out))
    tmp.unlink(missing_ok=True)
    return out


def head_decoding_nodes(model) -> list[str]:
    """The names of the detect head's decoding nodes (everything in the last ``/model.N/`` module but
    its convolution branches ``cv2``/``cv3``): box coordinates (0-640 px) and class scores (0-1)
    meet there, and one shared int8 scale erases the scores, so they stay in fp32."""
    import re

    modules = [int(m.group(1)) for node in model.graph.node if (m := re.match(r"/model\.(\d+)/", node.name))]
    if not modules:
        return []
    head = f"/model.{max(modules)}/"
    return [node.name for node in model.graph.node
            if node.name.startswith(head) and not re.match(re.escape(head) + r"cv[23]\.", node.name)]


def _model_for(models: dict[str, Any], backend: str, fmt: str):
    return models["onnx-int8"] if (backend, fmt) == ("onnx", "int8") else models[backend]


def speed(models: dict[str, Any], combos: list[str], images: list[Path], *, rounds: int) -> dict[str, float]:
    """Best images/s of ``camcensus detect`` per combination, round robin over ``rounds``."""
    from detector.detect import detect_images

    best: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="camcensus-op-") as tmp:
        listing = Path(tmp) / "images.txt"
        listing.write_text("".join(f"{p.resolve()}\n" for p in images), encoding="utf-8")
        for r in range(rounds):
            for combo in combos:
                backend, fmt, size = parse_combo(combo)
                out = Path(tmp) / f"out-{r}-{combo.replace(':', '_')}"
                started = time.monotonic()
                detect_images(listing, model=_model_for(models, backend, fmt), out=out, imgsz=size,
                              precision="auto" if fmt in ("auto", "int8") else fmt, device="cpu", progress=False)
                rate = len(images) / (time.monotonic() - started)
                best[combo] = max(best.get(combo, 0.0), rate)
                shutil.rmtree(out, ignore_errors=True)
                print(f"speed round {r} {combo}: {rate:.2f} img/s", flush=True)
    return best


def accuracy(models: dict[str, Any], combo: str, data: Path) -> dict[str, Any]:
    """Recall by size band, precision and false detections per image at the card's threshold."""
    from detector.evaluate import predictions_from_model, scores_from_boxes, truth_from_split
    from detector.reach import reach_for_split
    from detector.yolo_dataset import read_data_yaml
    from scripts.validation.detector_heldout import _bands

    backend, fmt, size = parse_combo(combo)
    model = _model_for(models, backend, fmt)
    conf = model.card.conf if model.card else None
    spec = read_data_yaml(data)
    images = spec.splits["val"]
    truth = truth_from_split(images, spec.names)
    predictions, timing = predictions_from_model(model, images, imgsz=size, device="cpu",
                                                 precision="auto" if fmt in ("auto", "int8") else fmt)
    scores = scores_from_boxes(predictions, truth, conf=conf, n_images=len(images))
    reach = reach_for_split(predictions, truth, images, conf=scores["conf"], data_root=spec.root)
    return {"combo": combo, **_bands(scores["by_size"]), "precision": round(scores["precision"], 3),
            "false_per_image": round(scores["false_per_image"], 4),
            "cpu_ms_per_image": round(1000 * timing["cpu_seconds"] / len(images), 1),
            "reach_m": (reach or {}).get("reach_m")}


def choose(rows: list[dict[str, Any]], *, floor: float = 0.9) -> dict[str, Any] | None:
    """The best >= 8 px recall (then 6-8 px) among rows with speed ratio >= ``floor``."""
    ok = [r for r in rows if r.get("speed_ratio") is not None and r["speed_ratio"] >= floor
          and r.get("recall_>=8") is not None]
    return max(ok, key=lambda r: (round(r["recall_>=8"], 2), r.get("recall_6-8") or 0, r["speed_ratio"]), default=None)


def main(argv: list[str] | None = None) -> int:
    from detector.yolo_dataset import read_data_yaml

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="cctv-yolo11n-synth2")
    parser.add_argument("--data", required=True, help="held-out data.yaml (training look)")
    parser.add_argument("--calib", default=None, help="folder of training-look JPEGs for int8 calibration")
    parser.add_argument("--work", required=True, help="folder for the exports")
    parser.add_argument("--combo", action="append", default=None, help=f"BACKEND:FORMAT:SIZE (default: {COMBOS})")
    parser.add_argument("--recall", action="append", default=None, help="combos to measure recall for "
                        "(default: the baseline and every combination within the speed floor)")
    parser.add_argument("--floor", type=float, default=0.9, help="speed ratio floor. Default 0.9.")
    parser.add_argument("--speed-images", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    combos = args.combo or COMBOS
    if args.calib is None:
        combos = [c for c in combos if ":int8:" not in c]
    models = prepare_exports(args.model, work, calib=Path(args.calib) if args.calib else None)
    images = read_data_yaml(args.data).splits["val"]
    rates = speed(models, combos, images[: args.speed_images], rounds=args.rounds)
    base = rates.get(BASELINE)
    viable = [c for c in combos if base and rates[c] / base >= args.floor]
    recall_combos = list(dict.fromkeys([BASELINE, *viable, *(args.recall or [])]))
    print(f"within {args.floor:g} of {BASELINE}: {viable}; recall for {recall_combos}", flush=True)
    rows = []
    for combo in combos:
        row = {"combo": combo, "images_per_s": round(rates[combo], 2),
               "speed_ratio": round(rates[combo] / base, 3) if base else None}
        if combo in recall_combos:
            row.update(accuracy(models, combo, Path(args.data)))
            print(json.dumps(row), flush=True)
        rows.append(row)
    best = choose(rows, floor=args.floor)
    result = {"baseline": BASELINE, "rows": rows, "chosen": best and best["combo"]}
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
