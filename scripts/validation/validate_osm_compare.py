"""Score the comparison with OSM (issue 22) on simulated surveys whose OSM layer disagrees with
the scene (``--sim-cameras osm:drop=F,add=D,move=M``): the truth says which OSM cameras were
removed, which scene cameras are unmapped and which are mapped (with their OSM id).

    python scripts/validation/validate_osm_compare.py survey-osm-s1 survey-osm-s2 survey-osm-s3

Each located camera is tied to the true camera it shows: among the true cameras whose boxes
overlap its detections in its images, the one nearest its located position (none: a false
camera). Then

- confirmed precision: confirmed pairs whose located camera shows the scene camera of that OSM node;
- new precision (P(real) >= 0.8): new candidates that show a truly unmapped camera;
- unseen precision (p_find >= 0.8): unseen OSM cameras that were truly removed.

Runs ``camcensus compare-osm``'s library function first (``--no-compare`` scores the existing
osm_compare.parquet). Prints one row per survey and the pooled row.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("YOLO_OFFLINE", "1")

HIGH = 0.8
TARGETS = {"confirmed": 0.95, "new": 0.85, "unseen": 0.80}
P_FIND_BINS = (0.0, 0.2, 0.5, 0.8, 1.0)


def truth_of_cameras(survey: Path, cameras: pd.DataFrame) -> pd.Series:
    """The true camera id each located camera shows (None: false camera)."""
    import geopandas as gpd
    from pyproj import Transformer

    from geo.counting.locate import read_detections

    boxes = pd.read_parquet(survey / "truth_boxes.parquet")
    dets = read_detections(survey)
    truth = gpd.read_file(survey / "truth.geojson")
    crs = json.loads((survey / "sample.json").read_text())["crs"]
    to_m = Transformer.from_crs(4326, crs, always_xy=True)
    tx, ty = to_m.transform(truth.geometry.x.to_numpy(), truth.geometry.y.to_numpy())
    where = dict(zip(truth["camera_id"], zip(tx, ty)))
    # detections overlapping a truth box: (image, class) -> true camera ids
    pairs = dets.merge(boxes, on="image_id", suffixes=("", "_t"))
    overlap = ((np.minimum(pairs["x2"], pairs["x2_t"]) > np.maximum(pairs["x1"], pairs["x1_t"]))
               & (np.minimum(pairs["y2"], pairs["y2_t"]) > np.maximum(pairs["y1"], pairs["y1_t"])))
    pairs = pairs[overlap]
    by_image = pairs.groupby("image_id")["camera_id"].apply(set).to_dict()
    out = []
    cx, cy = to_m.transform(cameras["lon"].to_numpy(float), cameras["lat"].to_numpy(float))
    for k, ids in enumerate(cameras["image_ids"]):
        cands = set()
        for image in ids if ids is not None else []:
            cands |= by_image.get(str(image), set())
        if not cands:
            out.append(None)
            continue
        best = min(cands, key=lambda c: np.hypot(where[c][0] - cx[k], where[c][1] - cy[k]) if c in where else 1e9)
        out.append(best)
    return pd.Series(out, index=cameras["camera_id"].to_numpy())


def score_survey(survey: Path, *, compare: bool = True, calibration: str = "auto") -> dict:
    """Counts and precisions of one survey's comparison against its truth."""
    import geopandas as gpd

    from geo.counting.locate import read_cameras
    from geo.counting.osm_compare import compare_survey, read_compare

    if compare:
        from scripts.survey.stages import estimate_calibration, model_figures

        if calibration == "card":  # the model card's calibration even when the survey has a review
            precision, recall, info = model_figures(survey, model=None, precision=None, recall=None)
            found = info.get("card_calibration")
            found = {**found, "source": "card"} if isinstance(found, dict) else None
        else:
            found, precision, recall, _ = estimate_calibration(survey, model=None, precision=None, recall=None)
        compare_survey(survey, calibration=found, precision=precision, recall=recall)
    table = read_compare(survey)
    cameras = read_cameras(survey / "cameras.parquet")
    shows = truth_of_cameras(survey, cameras)
    raw = json.loads((survey / "truth.geojson").read_text())
    removed = {str(f["properties"]["osm_id"]) for f in raw.get("osm_removed", [])}
    truth = gpd.read_file(survey / "truth.geojson")
    osm_of = dict(zip(truth["camera_id"], truth["osm_id"].astype(object)))
    status_of = dict(zip(truth["camera_id"], truth["osm_status"]))
    cid = table["camera_id"]

    def shown(i):
        v = None if pd.isna(i) else shows.get(int(i))
        return None if v is None or v != v else v

    conf = table[table["status"] == "confirmed"]
    conf_ok = [shown(i) is not None and str(osm_of.get(shown(i))) == str(o)
               for i, o in zip(conf["camera_id"], conf["osm_id"])]
    new = table[(table["status"] == "new") & (table["p_real"] >= HIGH)]
    new_ok = [shown(i) is not None and status_of.get(shown(i)) == "unmapped" for i in new["camera_id"]]
    multi = (new["n_views"].fillna(0) >= 2).to_numpy()
    uns = table[(table["status"] == "unseen") & (table["p_find"] >= HIGH)]
    uns_ok = [str(o) in removed for o in uns["osm_id"]]
    all_unseen = table[table["status"] == "unseen"]
    # how p_find compares with what was found: in-strip OSM nodes whose camera is still there
    nodes = table[table["osm_id"].notna() & table["status"].isin(["confirmed", "unseen"])].drop_duplicates("osm_id")
    kept = nodes[~nodes["osm_id"].astype(str).isin(removed)]
    bins = np.digitize(kept["p_find"].fillna(0).to_numpy(float), P_FIND_BINS[1:-1])
    found = (kept["status"] == "confirmed").to_numpy()
    calib = {f"pfind_n{b}": int((bins == b).sum()) for b in range(len(P_FIND_BINS) - 1)}
    calib.update({f"pfind_found{b}": int(found[bins == b].sum()) for b in range(len(P_FIND_BINS) - 1)})
    # the confirmed node's camera is there and the located camera is a real one (not necessarily that one)
    node_ok = [shown(i) is not None and str(o) not in removed for i, o in zip(conf["camera_id"], conf["osm_id"])]
    in_strip_osm = table[table["osm_id"].notna() & table["in_strip"]]
    return {
        "survey": survey.name, "located": int(len(cameras)),
        "false_located": int(sum(v is None or v != v for v in shows)),
        "confirmed": len(conf), "confirmed_ok": int(sum(conf_ok)), "confirmed_node_ok": int(sum(node_ok)),
        **calib,
        "new_high": len(new), "new_high_ok": int(sum(new_ok)), "new_all": int((table["status"] == "new").sum()),
        "new_multi": int(multi.sum()), "new_multi_ok": int(np.sum(np.array(new_ok, bool) & multi)),
        "unseen_high": len(uns), "unseen_high_ok": int(sum(uns_ok)), "unseen_all": len(all_unseen),
        "unseen_all_removed": int(sum(str(o) in removed for o in all_unseen["osm_id"])),
        "removed_in_strip": int(sum(str(o) in removed for o in in_strip_osm["osm_id"])),
        "outside": int((table["status"] == "outside").sum()),
        "class_known": int(conf["class_agree"].notna().sum()),
        "class_agree": int(conf["class_agree"].fillna(False).sum()),
        "unmapped_in_scene": int(sum(s == "unmapped" for s in truth["osm_status"])),
        "n_osm": int(table["osm_id"].dropna().nunique()), "removed": len(removed), "cid_na": int(cid.isna().sum()),
    }


def _p(ok: int, n: int) -> str:
    return f"{ok / n:.3f} ({ok}/{n})" if n else "n/a (0)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("surveys", nargs="+", type=Path)
    parser.add_argument("--no-compare", action="store_true", help="score the existing osm_compare.parquet")
    parser.add_argument("--calibration", choices=("auto", "card"), default="auto",
                        help="auto: the survey's review when it has one, else the card (as the survey does); "
                             "card: the model card's calibration")
    args = parser.parse_args(argv)
    rows = [score_survey(s, compare=not args.no_compare, calibration=args.calibration) for s in args.surveys]
    total = {k: sum(r[k] for r in rows) for k in rows[0] if k != "survey"}
    total["survey"] = "pooled"
    print("| survey | OSM cameras (removed) | located (false) | confirmed precision | new P(real)>=0.8 precision "
          "| unseen p_find>=0.8 precision | unseen all: removed | removed in strip | outside |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows + [total]:
        print(f"| {r['survey']} | {r['n_osm']} ({r['removed']}) | {r['located']} ({r['false_located']}) "
              f"| {_p(r['confirmed_ok'], r['confirmed'])} | {_p(r['new_high_ok'], r['new_high'])} "
              f"| {_p(r['unseen_high_ok'], r['unseen_high'])} | {r['unseen_all_removed']}/{r['unseen_all']} "
              f"| {r['removed_in_strip']} | {r['outside']} |")
    met = {"confirmed": total["confirmed_ok"] / max(total["confirmed"], 1),
           "new": total["new_high_ok"] / max(total["new_high"], 1),
           "unseen": total["unseen_high_ok"] / max(total["unseen_high"], 1)}
    print(f"confirmed, node-level (the node's camera is there and the located camera is real; pooled): "
          f"{_p(total['confirmed_node_ok'], total['confirmed'])}")
    print("p_find against what was found (pooled; in-strip OSM nodes whose camera is still there): " + ", ".join(
        f"p_find {P_FIND_BINS[b]:g}-{P_FIND_BINS[b + 1]:g}: {_p(total[f'pfind_found{b}'], total[f'pfind_n{b}'])} found"
        for b in range(len(P_FIND_BINS) - 1)))
    print(f"new with P(real) >= {HIGH} and >= 2 views (pooled): {_p(total['new_multi_ok'], total['new_multi'])}; "
          f"class agreement of the confirmed where OSM has camera:type: {total['class_agree']}/{total['class_known']}")
    print("targets (pooled): " + ", ".join(f"{k} {v:.3f} {'>=' if v >= TARGETS[k] else '<'} {TARGETS[k]}"
                                          for k, v in met.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
