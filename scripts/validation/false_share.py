"""Which located cameras are false, against what P(real) expects (issue 27, docs/estimator.md 15).

Research only (read only on its inputs):

- ``surveys ROOT [--est est-card] --csv OUT``: one row per located camera of every rendered survey
  under ROOT (a mirror such as ``rmirror4.sh`` writes: ``NAME/base`` with the truth, ``NAME/EST``
  with the estimate's ``cameras.parquet``): survey, method, n_detections, conf_max, the box size
  (px, sqrt(w h)) of its most confident detection, and whether that detection is false (on no
  camera or a duplicate, ``false_detections.kinds_from_boxes``); plus per survey the false
  cameras the card's rate expects (rate per image x the survey's ok images).
- ``cardset --data YAML --predictions PARQUET``: the card set's detections at the card's
  threshold by box-size bin, false or not (what a false detection's size looks like).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

SIZE_EDGES_PX = (0.0, 6.0, 8.0, 12.0, 16.0, 24.0, 32.0, 64.0, 1e5)  # the card's recall bins


def _size(df: pd.DataFrame) -> np.ndarray:
    return np.sqrt((df.x2 - df.x1).to_numpy(float) * (df.y2 - df.y1).to_numpy(float))


def located_kinds(survey_dir: Path, *, est: str = "est-card", conf: float = 0.5) -> pd.DataFrame:
    """One row per located camera of one survey (see the module's docstring)."""
    from scripts.validation.false_detections import FALSE_KINDS, kinds_from_boxes

    base = survey_dir / "base"
    cams = pd.read_parquet(survey_dir / est / "cameras.parquet")
    det = pd.read_parquet(base / "detections")
    det = det[det.conf >= conf].reset_index(drop=True)
    det["image_id"] = det.image_id.astype(str)
    truth = pd.read_parquet(base / "truth_boxes.parquet")
    truth["image_id"] = truth.image_id.astype(str)
    kind = kinds_from_boxes(det, truth)["kind"].to_numpy()
    det = det.assign(false=np.isin(kind, FALSE_KINDS), size_px=_size(det))
    rows = cams[["camera_id", "n_detections", "conf_max", "class_name"]].copy()
    top = cams[["camera_id", "image_ids", "conf_max"]].explode("image_ids").rename(columns={"image_ids": "image_id"})
    top["image_id"] = top.image_id.astype(str)
    hit = top.merge(det[["image_id", "conf", "false", "size_px"]], on="image_id")
    hit = hit[(hit.conf - hit.conf_max).abs() < 1e-6].drop_duplicates("camera_id")
    rows = rows.merge(hit[["camera_id", "false", "size_px"]], on="camera_id", how="left")
    meta = json.loads((survey_dir / "survey.json").read_text()) if (survey_dir / "survey.json").is_file() else {}
    return rows.assign(survey=survey_dir.name, method=meta.get("method"), style=meta.get("style"),
                       corruption=meta.get("corruption") or "")


def expected_false(survey_dir: Path, *, est: str = "est-card") -> float:
    """False detections the card's rate expects on the survey: rate per image x its ok images."""
    report = json.loads((survey_dir / est / "report.json").read_text())
    images = pd.read_parquet(survey_dir / "base" / "images.parquet")
    ok = images["status"].fillna("ok").eq("ok") if "status" in images else np.ones(len(images), bool)
    n_ok = images.loc[ok, "image_id"].nunique()
    return float(report["calibration"]["false_per_image"]) * n_ok


def surveys_table(root: Path, *, est: str = "est-card") -> tuple[pd.DataFrame, pd.DataFrame]:
    """(located cameras of every survey, per survey: expected and realized false cameras)."""
    cams, per = [], []
    for d in sorted(p.parent.parent for p in root.glob(f"*/{est}/cameras.parquet")):
        c = located_kinds(d, est=est)
        cams.append(c)
        per.append({"survey": d.name, "method": c.method.iloc[0] if len(c) else None,
                    "style": c["style"].iloc[0] if len(c) else None,
                    "corruption": c["corruption"].iloc[0] if len(c) else "",
                    "located": len(c), "false": int(c["false"].fillna(False).sum()),
                    "expected": expected_false(d, est=est)})
    return pd.concat(cams, ignore_index=True), pd.DataFrame(per)


def cardset_sizes(data: str, predictions: str, *, conf: float = 0.5) -> pd.DataFrame:
    """The card set's detections at ``conf`` by size bin: detections, false ones (on no camera)."""
    from detector.evaluate import truth_from_split
    from detector.matching import overlaps_no_truth
    from detector.yolo_dataset import read_data_yaml

    spec = read_data_yaml(data)
    truth = truth_from_split(spec.splits["val"], spec.names)
    pred = pd.read_parquet(predictions)
    pred = pred[pred.conf >= conf].reset_index(drop=True)
    false = overlaps_no_truth(pred, truth.reset_index(drop=True))
    b = np.digitize(_size(pred), SIZE_EDGES_PX[1:-1])
    out = pd.DataFrame({"bin": b, "false": false, "size_px": _size(pred), "conf": pred.conf})
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("surveys", help="located cameras of rendered surveys, false or not")
    s.add_argument("root", type=Path)
    s.add_argument("--est", default="est-card")
    s.add_argument("--csv", type=Path, required=True, help="per located camera (a second file *-per.csv per survey)")
    c = sub.add_parser("cardset", help="the card set's detections by box size, false or not")
    c.add_argument("--data", required=True)
    c.add_argument("--predictions", required=True)
    c.add_argument("--csv", type=Path, required=True)
    a = ap.parse_args(argv)
    if a.cmd == "surveys":
        cams, per = surveys_table(a.root, est=a.est)
        cams.to_csv(a.csv, index=False)
        per.to_csv(a.csv.with_name(a.csv.stem + "-per.csv"), index=False)
        print(per.to_string())
    else:
        t = cardset_sizes(a.data, a.predictions)
        t.to_csv(a.csv, index=False)
        print(t.groupby("bin")["false"].agg(["size", "sum"]).to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
