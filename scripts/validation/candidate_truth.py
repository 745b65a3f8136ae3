"""Which candidate views of a located camera could show it, against the simulator's truth (issue 26).

The survey's own fit (``geo.counting.recapture``) counts every candidate view of a located camera
(``histories_from_tables``: ``geo.counting.inclusion.view_pairs`` at the located position, one
shift) that did not detect it as a miss. This script scores those candidates with the truth only:
each located camera within ``REAL_M`` of a true camera is that camera (real); each of its
candidate (camera, view) pairs holds a true box of it in that view's image or not
(``truth_boxes.parquet``). The share that hold one is broken down by range, the angle of the view
off the camera's wall (from the true position's wall, as the renderer's relief test has it), the
predicted box size, whether a footprint lies on the sight line, the view's side and the camera's
mount; and the same for the pairs ``view_pairs`` gives at the TRUE position (so that the geometry's
rules and the located position's error are told apart).

    python scripts/validation/candidate_truth.py SURVEY [SURVEY ...] [--csv pairs.csv] [--markdown t.md]

A survey directory needs images.parquet, cameras.parquet (located), sample.json, truth.geojson and
truth_boxes.parquet. The truth is used only to score.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

REAL_M = 4.0  # a located camera this close to a true one is that camera


def _survey_inputs(survey_dir: Path, *, buildings="auto") -> dict:
    """images, cameras (None without cameras.parquet), crs, buildings (in the crs; "auto": the
    area's, as the estimator reads them), truth (in the crs) and the true boxes."""
    import geopandas as gpd

    from geo.counting.locate import buildings_for_survey

    info = json.loads((survey_dir / "sample.json").read_text())
    crs = info["crs"]
    if isinstance(buildings, str) and buildings == "auto":
        buildings = buildings_for_survey(info)
    build_m = buildings.to_crs(crs) if buildings is not None and len(buildings) else None
    images = pd.read_parquet(survey_dir / "images.parquet")
    path = survey_dir / "cameras.parquet"
    cameras = pd.read_parquet(path) if path.exists() else None
    truth = gpd.read_file(survey_dir / "truth.geojson").to_crs(crs)
    boxes = pd.read_parquet(survey_dir / "truth_boxes.parquet")
    return {"info": info, "crs": crs, "buildings": build_m, "images": images, "cameras": cameras, "truth": truth,
            "boxes": boxes}


def _captured_pairs(inputs: dict):
    """(pairs, camera positions, views, detected per pair) exactly as ``recapture.histories_from_tables`` builds them."""
    import geo.counting.recapture as rc

    got = {}
    original = rc.view_pairs

    def spy(cxy, tangent, views, **kw):
        out = original(cxy, tangent, views, **kw)
        got.update(cxy=np.asarray(cxy, float), views=views, pairs=out)
        return out

    rc.view_pairs = spy
    try:
        h = rc.histories_from_tables(inputs["cameras"], inputs["images"], crs=inputs["crs"],
                                     buildings=inputs["buildings"])
    finally:
        rc.view_pairs = original
    pairs = got.get("pairs")
    return pairs, got.get("cxy"), got.get("views"), h.detected[:len(pairs.cam)]


def _ok_image_ids(images: pd.DataFrame) -> np.ndarray:
    ok = images
    if "status" in ok.columns:
        ok = ok[ok["status"].fillna("ok").eq("ok")]
    return ok.drop_duplicates("image_id")["image_id"].astype(str).to_numpy()


def pair_features(pairs, cxy: np.ndarray, views: pd.DataFrame, image_ids: np.ndarray, *, true_xy: np.ndarray,
                  true_id: np.ndarray, true_normal: np.ndarray, buildings, box_px: dict, sides: np.ndarray,
                  located_normal: np.ndarray | None = None) -> pd.DataFrame:
    """One row per (camera, view) pair of ``pairs``: range, predicted size, 'other', the view's
    angle off the true camera's wall (deg from the wall's plane, NaN off walls), whether a
    footprint lies on the sight line (no facade tolerance) and the true box (px, 0: none)."""
    from geo.counting.inclusion import sight_blocked, visibility_by_range

    cam, vj = pairs.cam, pairs.view
    ex, ey = views["x"].to_numpy(float)[vj], views["y"].to_numpy(float)[vj]
    tx, ty = true_xy[cam, 0], true_xy[cam, 1]
    d = np.column_stack([ex - tx, ey - ty])
    dist = np.maximum(np.hypot(d[:, 0], d[:, 1]), 1e-9)
    n = true_normal[cam]
    wall_deg = np.degrees(np.arcsin(np.clip((n[:, 0] * d[:, 0] + n[:, 1] * d[:, 1]) / dist, -1, 1)))
    out = pd.DataFrame({
        "cam": cam, "view": vj, "range_m": pairs.range_m, "scale": pairs.scale,
        "reach": pairs.factor if pairs.factor is not None else 1.0,
        "visibility": visibility_by_range(pairs.range_m), "wall_deg": wall_deg,
        "true_range_m": dist, "side": sides[vj], "true_id": true_id[cam],
    })
    if located_normal is not None:
        ln = located_normal[cam]
        dl = np.column_stack([ex - cxy[cam, 0], ey - cxy[cam, 1]])
        out["located_wall_deg"] = np.degrees(np.arcsin(np.clip(
            (ln[:, 0] * dl[:, 0] + ln[:, 1] * dl[:, 1]) / np.maximum(np.hypot(dl[:, 0], dl[:, 1]), 1e-9), -1, 1)))
    if buildings is not None and len(buildings):
        out["blocked_true"] = sight_blocked(np.column_stack([ex, ey]), true_xy[cam], buildings, tolerance_m=0.5)
    else:
        out["blocked_true"] = False
    out["true_px"] = [box_px.get((image_ids[v], t), 0.0) for v, t in zip(vj, out["true_id"])]
    return out


def candidate_truth(survey_dir: Path, *, buildings="auto") -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """(located pairs, true-position pairs, per-survey counts) for one survey (see the module
    docstring); ``buildings``: footprints (any CRS), None, or "auto" (the area's)."""
    from scipy.spatial import cKDTree

    from geo.counting.inclusion import box_size_m, view_pairs, wall_normals

    inputs = _survey_inputs(survey_dir, buildings=buildings)
    pairs, cxy, views, detected = _captured_pairs(inputs)
    image_ids = _ok_image_ids(inputs["images"])
    truth = inputs["truth"]
    txy_all = np.column_stack([truth.geometry.x, truth.geometry.y])
    tid_all = truth["camera_id"].astype(str).to_numpy()
    buildings = inputs["buildings"]
    tnormal_all = (wall_normals(txy_all, buildings) if buildings is not None
                   else np.full((len(txy_all), 2), np.nan))
    boxes = inputs["boxes"]
    px = np.sqrt((boxes["x2"] - boxes["x1"]) * (boxes["y2"] - boxes["y1"])).to_numpy(float)
    box_px = dict(zip(zip(boxes["image_id"].astype(str), boxes["camera_id"].astype(str)), px))
    sides_by_image = _sides(inputs["images"], survey_dir)
    sides = np.array([sides_by_image.get(i, "?") for i in image_ids], dtype=object)
    dist, ti = cKDTree(txy_all).query(cxy)
    real = dist <= REAL_M
    located_normal = wall_normals(cxy, buildings) if buildings is not None else None
    loc = pair_features(pairs, cxy, views, image_ids, true_xy=txy_all[ti], true_id=tid_all[ti],
                        true_normal=tnormal_all[ti], buildings=buildings, box_px=box_px, sides=sides,
                        located_normal=located_normal)
    box = box_size_m(inputs["cameras"]["class_name"].astype(str).to_numpy())
    loc["size_px"] = box[loc["cam"]] * loc["scale"]
    loc["detected"] = detected
    loc["real"] = real[loc["cam"].to_numpy()]
    loc["mount"] = _mounts(truth)[ti][loc["cam"].to_numpy()]
    loc["offset_m"] = dist[loc["cam"].to_numpy()]
    # the same true cameras at their true positions (one per distinct true camera found)
    uniq = np.unique(ti[real])
    tp = view_pairs(txy_all[uniq], np.tile([1.0, 0.0], (len(uniq), 1)), views, spacing_m=1.0, buildings=buildings,
                    n_shifts=1)
    tru = pair_features(tp, txy_all[uniq], views, image_ids, true_xy=txy_all[uniq], true_id=tid_all[uniq],
                        true_normal=tnormal_all[uniq], buildings=buildings, box_px=box_px, sides=sides)
    tcls = truth["class_name"].astype(str).to_numpy()[uniq]
    tru["size_px"] = box_size_m(tcls)[tru["cam"]] * tru["scale"]
    tru["mount"] = _mounts(truth)[uniq][tru["cam"].to_numpy()]
    # true boxes of those cameras outside the candidate views (what the geometry never offers)
    cand = set(zip(tru["true_id"], tru["view"].map(lambda v: image_ids[v])))
    row_of = {i: k for k, i in enumerate(image_ids)}
    mine = boxes[boxes["camera_id"].astype(str).isin(set(tid_all[uniq]))]
    missing = [(c, i) for c, i in zip(mine["camera_id"].astype(str), mine["image_id"].astype(str))
               if (c, i) not in cand and i in row_of]
    counts = {"survey": survey_name(survey_dir), "located": int(len(cxy)), "real": int(real.sum()),
              "distinct_true": int(len(uniq)), "true_boxes_of_them": int(len(mine)),
              "true_boxes_not_candidate": int(len(missing))}
    return loc, tru, counts


def visibility_pairs(survey_dir: Path, *, strip_m: float = 20.0, buildings="auto") -> pd.DataFrame:
    """The candidate pairs of EVERY true camera within ``strip_m`` of a street (``street_distance_m``,
    all cameras where the truth lacks it) at its true position (``view_pairs`` at the realized
    views, one shift): the pair set the estimator's inclusion describes, found or not, with the
    true box of each (no located cameras needed). ``visibility_by_range`` is meant to be the share
    of such pairs with a true box."""
    from geo.counting.inclusion import box_size_m, view_pairs, views_for_inclusion, wall_normals

    inputs = _survey_inputs(survey_dir, buildings=buildings)
    truth = inputs["truth"]
    if "street_distance_m" in truth.columns:
        truth = truth[truth["street_distance_m"].to_numpy(float) <= strip_m].reset_index(drop=True)
    views = views_for_inclusion(inputs["images"], inputs["crs"])
    image_ids = _ok_image_ids(inputs["images"])
    txy = np.column_stack([truth.geometry.x, truth.geometry.y])
    tid = truth["camera_id"].astype(str).to_numpy()
    build_m = inputs["buildings"]
    normal = wall_normals(txy, build_m) if build_m is not None else np.full((len(txy), 2), np.nan)
    boxes = inputs["boxes"]
    px = np.sqrt((boxes["x2"] - boxes["x1"]) * (boxes["y2"] - boxes["y1"])).to_numpy(float)
    box_px = dict(zip(zip(boxes["image_id"].astype(str), boxes["camera_id"].astype(str)), px))
    sides_by_image = _sides(inputs["images"], survey_dir)
    sides = np.array([sides_by_image.get(i, "?") for i in image_ids], dtype=object)
    pairs = view_pairs(txy, np.tile([1.0, 0.0], (len(txy), 1)), views, spacing_m=1.0, buildings=build_m, n_shifts=1)
    out = pair_features(pairs, txy, views, image_ids, true_xy=txy, true_id=tid, true_normal=normal,
                        buildings=build_m, box_px=box_px, sides=sides)
    cam = out["cam"].to_numpy()
    out["size_px"] = box_size_m(truth["class_name"].astype(str).to_numpy())[cam] * out["scale"]
    out["mount"] = _mounts(truth)[cam]
    out["class_name"] = truth["class_name"].astype(str).to_numpy()[cam]
    return out


def _mounts(truth) -> np.ndarray:
    """The true cameras' mounts (wall, pole, ...; "?" where the truth lacks them)."""
    return truth["mount"].astype(str).to_numpy() if "mount" in truth.columns else np.full(len(truth), "?", object)


def _sides(images: pd.DataFrame, survey_dir: Path) -> dict:
    """image_id -> the view's side (left/right/forward/backward) from views.parquet."""
    path = survey_dir / "views.parquet"
    if not path.exists() or "view_id" not in images.columns:
        return {}
    v = pd.read_parquet(path, columns=["view_id", "side"])
    side = dict(zip(v["view_id"].astype(str), v["side"].astype(str)))
    return {str(i): side.get(str(w), "?") for i, w in zip(images["image_id"], images["view_id"])}


def survey_name(survey_dir: Path) -> str:
    """A survey's name in the tables: its directory's, or its parent's for a rendered survey's ``base``."""
    return survey_dir.parent.name if survey_dir.name == "base" else survey_dir.name


def share_table(pairs: pd.DataFrame, by: str, bins=None) -> pd.DataFrame:
    """Share of pairs holding a true box (any size, and >= 6 px) by ``by`` (binned by ``bins``)."""
    key = pd.cut(pairs[by], bins) if bins is not None else pairs[by]
    g = pairs.assign(hit=pairs["true_px"] > 0, hit6=pairs["true_px"] >= 6).groupby(key, observed=True)
    return pd.DataFrame({"pairs": g.size(), "with_box": g["hit"].mean().round(2), "box_ge_6px": g["hit6"].mean().round(2),
                         "model_visibility": g["visibility"].mean().round(2), "model_reach": g["reach"].mean().round(2)})


def _markdown(frame: pd.DataFrame) -> str:
    """A pipe table of ``frame`` (index first)."""
    head = [str(frame.index.name or "")] + [str(c) for c in frame.columns]
    rows = [[str(i)] + [str(v) for v in r] for i, r in zip(frame.index, frame.itertuples(index=False))]
    return "\n".join("| " + " | ".join(r) + " |" for r in [head, ["---"] * len(head)] + rows)


TABLES = (("range_m", [0, 5, 10, 15, 20, 25, 30, 40, 50]), ("wall_deg", [-90, -15, 0, 10, 15, 20, 25, 35, 50, 90]),
          ("size_px", [0, 4, 6, 8, 12, 16, 24, 48, 1000]), ("blocked_true", None), ("side", None), ("mount", None))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("surveys", nargs="+", type=Path)
    parser.add_argument("--csv", type=Path, help="write every pair (located and true positions) here")
    parser.add_argument("--markdown", type=Path)
    parser.add_argument("--all-true", action="store_true", help="the candidate pairs of every true camera in the "
                        "strip at its true position (visibility_pairs): no located cameras needed")
    args = parser.parse_args(argv)
    if args.all_true:
        frame = pd.concat([visibility_pairs(d).assign(survey=survey_name(d)) for d in args.surveys], ignore_index=True)
        if args.csv:
            frame.to_csv(args.csv, index=False)
        text = f"### every true camera in the strip: {len(frame)} pairs, {(frame['true_px'] > 0).mean():.2f} with a true box\n\n"
        text += "\n".join(f"by {by}\n\n" + _markdown(share_table(frame, by, bins)) + "\n" for by, bins in TABLES)
        print(text)
        if args.markdown:
            args.markdown.write_text(text)
        return 0
    locs, trus, counts = [], [], []
    for d in args.surveys:
        loc, tru, c = candidate_truth(d)
        locs.append(loc.assign(survey=survey_name(d), kind="located"))
        trus.append(tru.assign(survey=survey_name(d), kind="true"))
        counts.append(c)
        real = loc[loc["real"]]
        print(f"{survey_name(d)}: real located {c['real']} of {c['located']} ({c['distinct_true']} distinct); candidate pairs "
              f"of real cameras {len(real)}, with a true box {(real['true_px'] > 0).mean():.2f}; at the true "
              f"positions {len(tru)}, with a box {(tru['true_px'] > 0).mean():.2f}; true boxes outside the "
              f"true-position candidates {c['true_boxes_not_candidate']} of {c['true_boxes_of_them']}", flush=True)
    loc_all = pd.concat(locs, ignore_index=True)
    tru_all = pd.concat(trus, ignore_index=True)
    if args.csv:
        pd.concat([loc_all, tru_all], ignore_index=True).to_csv(args.csv, index=False)
    lines = []
    for name, frame in (("located positions (real cameras)", loc_all[loc_all["real"]]), ("true positions", tru_all)):
        lines.append(f"### {name}: {len(frame)} pairs, {(frame['true_px'] > 0).mean():.2f} with a true box\n")
        for by, bins in TABLES:
            lines.append(f"by {by}\n\n" + _markdown(share_table(frame, by, bins)) + "\n")
    text = "\n".join(lines)
    print(text)
    if args.markdown:
        args.markdown.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
