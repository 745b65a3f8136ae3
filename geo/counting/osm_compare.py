"""The survey against OpenStreetMap: which mapped cameras it confirms, which cameras it found that
are not mapped, and which mapped cameras it should have seen but did not.

Every OSM camera (``man_made=surveillance`` node) and every located camera gets one row with a
``status``:

- ``confirmed``: a located camera and an OSM camera match, one to one (Hungarian assignment on
  distance / match radius), within ``match_radius_m`` of the located camera: the OSM mapping error
  and the facade snap (``MATCH_BASE_M``) combined with ``MATCH_SIGMAS`` times its position
  uncertainty (``uncertainty_m``, 1-sigma, metres), at most ``MATCH_MAX_M`` (DeFlock's duplicate
  checks use 15-25 m). ``class_agree`` says whether OSM's ``camera:type`` (dome -> dome, fixed ->
  directed) agrees with the detector's class (None where OSM does not say).
- ``new``: a located camera with no OSM camera to match, with its P(real) (``p_real``, the
  estimator's ``camera_reality`` from the precision by confidence), its views and its best crops.
- ``unseen``: an OSM camera inside the strip that no located camera matches, with ``p_find``: the
  probability that this survey would have found it were it there, the estimator's inclusion
  probability at its mapped position (``geo.counting.inclusion``: the views whose field of view,
  range and buildings allow it, the recall at the box size it would have, averaged over the grid's
  start), unfloored. High: probably gone, moved or mis-mapped; low: the survey cannot tell. A
  node within locate's merge reach (``MERGE_M``, or 2 sigma) of a located camera matched to
  another node gets p_find 0: one located camera stands for both, the survey cannot separate them.
- ``outside``: an OSM camera outside the strip (the estimate's, per class:
  ``geo.counting.estimate.cameras_in_strip`` of the surveyed street pieces; an OSM camera without
  ``camera:type`` counts as directed), about which the survey says nothing.

``compare_from_tables`` works on tables; ``compare_survey`` reads a survey directory and writes
``osm_compare.geojson``, ``osm_compare.parquet``, the mappers' exports
(``geo.outputs.osm_exports``) and an ``osm_compare`` summary in ``report.json``. Candidates are
evidence for a person to check, never edits: nothing here uploads anything.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.counting.estimate import (P_REAL_MIXTURE, cameras_in_strip, false_detections_by_bin, mixture_for,
                                   reality_from_false, reality_from_rate, strip_by_class, strip_side, xy_from_lonlat)
from geo.counting.heterogeneity import CAMERA_LOGIT_SD
from geo.counting.inclusion import (DEFAULT_SHIFTS, DEFAULT_STRIP_M, box_size_m, street_distance, surveyed_streets,
                                    view_pairs, views_for_inclusion)
from geo.errors import GeoInputError

STATUSES = ("confirmed", "new", "unseen", "outside")
STRIP_DEFAULT = "auto"  # as the estimate: per class, where the design's detection function falls to its floor
MATCH_BASE_M = 8.0  # OSM mapping error and the snap of a mapped node to its facade (the simulator's 8 m)
MATCH_SIGMAS = 2.0  # times the located camera's 1-sigma uncertainty
MATCH_MAX_M = 25.0
MERGE_M = 2.5  # locate's merge distance (geo.counting.locate): cameras closer than this (or 2 sigma) become one
N_CROPS = 3  # best crops kept per located camera
N_EVIDENCE_VIEWS = 3  # views listed for an unseen camera (the likeliest to have shown it)
OSM_CLASS = {"dome": "dome", "fixed": "directed"}  # OSM camera:type -> detector class (panning: unknown)
CLASS_TO_OSM = {"dome": "dome", "directed": "fixed"}
COMPARE_GEOJSON = "osm_compare.geojson"
COMPARE_PARQUET = "osm_compare.parquet"
COLUMNS = ("status", "osm_id", "camera_id", "lon", "lat", "distance_m", "match_radius_m", "p_real", "p_find",
           "class_name", "osm_class", "class_agree", "in_strip", "street_distance_m", "n_views", "n_detections",
           "conf_max", "method", "uncertainty_m", "camera_lon", "camera_lat", "osm_lon", "osm_lat",
           "image_ids", "expected_views", "crops", "osm_tags", "suggested_tags", "shared_match", "evidence")


@dataclass
class CompareResult:
    """The comparison table (one row per OSM camera and per located camera, EPSG:4326), its
    summary (report.json's ``osm_compare``) and the paths written."""

    table: gpd.GeoDataFrame
    summary: dict
    paths: dict[str, Path] = field(default_factory=dict)


def match_radius_m(uncertainty_m: np.ndarray) -> np.ndarray:
    """Match radius (m) of located cameras with position uncertainty ``uncertainty_m`` (1-sigma,
    m; NaN as 0): hypot(``MATCH_BASE_M``, ``MATCH_SIGMAS`` x uncertainty), at most ``MATCH_MAX_M``."""
    unc = np.nan_to_num(np.asarray(uncertainty_m, float), nan=0.0)
    return np.minimum(np.hypot(MATCH_BASE_M, MATCH_SIGMAS * unc), MATCH_MAX_M)


def match_cameras(cam_xy: np.ndarray, radius_m: np.ndarray, osm_xy: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One-to-one matches of located cameras (``cam_xy``, m, each with its ``radius_m``) to OSM
    cameras (``osm_xy``, m): (camera index, OSM index, distance m), minimising the sum of
    distance / radius over pairs within the radius (``scipy.optimize.linear_sum_assignment``)."""
    from scipy.optimize import linear_sum_assignment
    from scipy.spatial import cKDTree

    empty = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
    if len(cam_xy) == 0 or len(osm_xy) == 0:
        return empty
    near = cKDTree(cam_xy).query_ball_tree(cKDTree(osm_xy), float(np.max(radius_m)))
    ci = np.array([i for i, js in enumerate(near) for _ in js], dtype=np.int64)
    oj = np.array([j for js in near for j in js], dtype=np.int64)
    if len(ci) == 0:
        return empty
    d = np.hypot(*(cam_xy[ci] - osm_xy[oj]).T)
    ok = d <= radius_m[ci]
    ci, oj, d = ci[ok], oj[ok], d[ok]
    if len(ci) == 0:
        return empty
    # the assignment on the cameras and OSM nodes that have any candidate (small, dense)
    rows, ri = np.unique(ci, return_inverse=True)
    cols, cj = np.unique(oj, return_inverse=True)
    big = 1e6
    cost = np.full((len(rows), len(cols)), big)
    cost[ri, cj] = d / np.maximum(radius_m[ci], 1e-9)
    a, b = linear_sum_assignment(cost)
    keep = cost[a, b] < big
    a, b = rows[a[keep]], cols[b[keep]]
    dist = np.hypot(*(cam_xy[a] - osm_xy[b]).T) if len(a) else np.zeros(0)
    return a.astype(np.int64), b.astype(np.int64), dist


def nearest_within(cams: np.ndarray, cam_xy: np.ndarray, radius_m: np.ndarray, osm_xy: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For located cameras ``cams`` (indices): the nearest OSM camera within each one's radius
    (camera index, OSM index, distance m), those that have one."""
    from scipy.spatial import cKDTree

    if len(cams) == 0 or len(osm_xy) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    d, j = cKDTree(osm_xy).query(cam_xy[cams], k=1)
    ok = d <= radius_m[cams]
    return cams[ok].astype(np.int64), j[ok].astype(np.int64), d[ok]


def osm_class(camera_type: pd.Series | np.ndarray) -> np.ndarray:
    """Detector class of OSM ``camera:type`` values (dome -> dome, fixed -> directed; else None)."""
    return np.array([OSM_CLASS.get(str(v).strip().lower()) if isinstance(v, str) else None
                     for v in np.asarray(camera_type, dtype=object)], dtype=object)


def find_probability(osm_xy: np.ndarray, klass: np.ndarray, *, surveyed: gpd.GeoDataFrame, views: pd.DataFrame,
                     recall_at, spacing_m: float, buildings: gpd.GeoDataFrame | None = None,
                     n_shifts: int = DEFAULT_SHIFTS, camera_sd: float = CAMERA_LOGIT_SD
                     ) -> tuple[np.ndarray, list[list[int]]]:
    """p_find of cameras at ``osm_xy`` (m, the surveyed pieces' CRS) of class ``klass`` (None:
    directed, the simulator's and OSM's default): the estimator's inclusion probability there
    (``ViewPairs.inclusion``, unfloored: p* averaged over ``n_shifts`` grid starts; 1: this survey's
    own views, as for a random design, where the question is what this survey could find), and for
    each camera the rows of ``views`` likeliest to show it (at most ``N_EVIDENCE_VIEWS``, best
    first, at its mapped position). ``views``: ``views_for_inclusion``; ``recall_at(size_px)``:
    the calibration's recall by box size; ``buildings``: footprints in the same CRS; ``camera_sd``:
    the per-camera logit SD of recall."""
    n = len(osm_xy)
    if n == 0:
        return np.zeros(0), []
    xy = snap_into_street(osm_xy, buildings)
    _, _, tangent = street_distance(xy, surveyed)
    names = np.array(["directed" if k is None else str(k) for k in klass], dtype=object)
    box = box_size_m(names)
    pairs = view_pairs(xy, tangent, views, spacing_m=spacing_m, buildings=buildings, n_shifts=n_shifts,
                       camera_sd=camera_sd)
    _, raw = pairs.inclusion(box, recall_at, floor=0.0)  # (geo.counting.estimate.inclusion_pairs, systematic)
    best: list[list[int]] = [[] for _ in range(n)]
    if len(pairs.cam):
        p = pairs.detection(box, recall_at)
        centre = pairs.shift == pairs.n_shifts // 2
        frame = pd.DataFrame({"cam": pairs.cam[centre], "view": pairs.view[centre], "p": p[centre]})
        frame = frame.sort_values("p", ascending=False).groupby("cam").head(N_EVIDENCE_VIEWS)
        for cam, group in frame.groupby("cam"):
            best[int(cam)] = group["view"].astype(int).tolist()
    return np.clip(raw, 0.0, 1.0), best


def snap_into_street(xy: np.ndarray, buildings: gpd.GeoDataFrame | None, *, offset_m: float = 0.3) -> np.ndarray:
    """Mapped positions inside a building footprint moved to ``offset_m`` outside its nearest
    outline (a node mapped on the building stands for a camera on its wall, as the simulator
    places it); other positions unchanged."""
    xy = np.asarray(xy, float).copy()
    if buildings is None or len(buildings) == 0 or len(xy) == 0:
        return xy
    polys = buildings.geometry.to_numpy()
    polys = polys[np.isin(shapely.get_type_id(polys), [3, 6])]
    if len(polys) == 0:
        return xy
    pts = shapely.points(xy)
    pi, bi = shapely.STRtree(polys).query(pts, predicate="within")
    if len(pi) == 0:
        return xy
    pi, first = np.unique(pi, return_index=True)
    bi = bi[first]
    edge = shapely.get_coordinates(shapely.shortest_line(pts[pi], shapely.boundary(polys[bi])))[1::2]
    d = edge - xy[pi]
    norm = np.maximum(np.hypot(d[:, 0], d[:, 1]), 1e-9)
    xy[pi] = edge + d / norm[:, None] * offset_m
    return xy


def suggested_tags(class_name: str, *, method: str | None = None, wall: bool = False) -> dict[str, str]:
    """The OSM tags of a located camera, as OSM expects them: man_made=surveillance,
    surveillance:type=camera, camera:type (dome / fixed), and camera:mount=wall where locate
    placed it on a facade (``method`` facade, or ``wall``: within a metre of one)."""
    tags = {"man_made": "surveillance", "surveillance:type": "camera"}
    if class_name in CLASS_TO_OSM:
        tags["camera:type"] = CLASS_TO_OSM[class_name]
    if method == "facade" or wall:
        tags["camera:mount"] = "wall"
    return tags


def compare_from_tables(
    cameras: pd.DataFrame,
    osm: gpd.GeoDataFrame,
    *,
    surveyed: gpd.GeoDataFrame,
    views: pd.DataFrame,
    recall_at,
    p_real: np.ndarray | None = None,
    strip: float | dict[str, float] = DEFAULT_STRIP_M,
    spacing_m: float = 20.0,
    n_shifts: int = DEFAULT_SHIFTS,
    buildings: gpd.GeoDataFrame | None = None,
    crops: list[list[str]] | None = None,
    images: pd.DataFrame | None = None,
    side: str | None = None,
    camera_sd: float = CAMERA_LOGIT_SD,
) -> gpd.GeoDataFrame:
    """The comparison table (EPSG:4326, ``COLUMNS``): one row per confirmed pair, per new located
    camera and per unmatched OSM camera (unseen / outside).

    ``cameras``: located cameras (camera_id, lon, lat, class_name, uncertainty_m, method, n_views,
    n_detections, conf_max, image_ids). ``osm``: OSM cameras (osm_id, camera:type and the other
    tags of ``geo.sim.features.surveillance_from_area``, Point geometry, any CRS).
    ``surveyed``: the surveyed street pieces (projected, metres; their CRS is the one used).
    ``views``: ``views_for_inclusion`` in that CRS; ``images``: the ok images in the same order
    (for image ids of the views an unseen camera should be in). ``recall_at(size_px)``: recall by
    box size. ``p_real``: per located camera (default 1). ``strip``: half-width (m), or one per
    class. ``buildings``: footprints in the metric CRS. ``crops``: per located camera, its best
    crops (data URIs). ``side``: "left" / "right" for a one-sided design, whose strip holds only
    the side its views look at (``geo.counting.estimate.strip_side``). ``camera_sd``: the per-camera
    logit SD of recall p_find averages over (the estimate's, ``camera_sd_of_estimate``)."""
    m = matched_pairs(cameras, osm, surveyed.crs)
    widths = strip if isinstance(strip, dict) else {"directed": float(strip), "dome": float(strip)}
    where = strip_membership(m, surveyed, widths, side=side)
    found = find_step(m, where, surveyed=surveyed, views=views, recall_at=recall_at, spacing_m=spacing_m,
                      buildings=buildings, n_shifts=n_shifts, images=images, camera_sd=camera_sd)
    q = np.ones(len(cameras)) if p_real is None else np.asarray(p_real, float)
    rows = comparison_rows(cameras, osm, m, where, found, q=q, crops=crops, buildings=buildings)
    return comparison_frame(rows)


@dataclass
class _Matched:
    """The located and OSM cameras in metres and their one-to-one pairs (``matched_pairs``)."""

    cam_xy: np.ndarray
    osm_xy: np.ndarray
    unc: np.ndarray
    radius: np.ndarray
    ci: np.ndarray  # located camera of each pair
    oj: np.ndarray  # OSM camera of each pair
    dist: np.ndarray
    shared: np.ndarray  # a second located camera at an already matched node
    o_class: np.ndarray
    c_class: np.ndarray

    @property
    def unmatched_osm(self) -> np.ndarray:
        return np.setdiff1d(np.arange(len(self.osm_xy)), self.oj)


def matched_pairs(cameras: pd.DataFrame, osm: gpd.GeoDataFrame, crs) -> _Matched:
    """Step 1: project both sets into ``crs`` and pair them one to one within the match radius; a
    second located camera near a matched node is paired too (``shared``: the same camera twice)."""
    n_cam = len(cameras)
    cam_xy = xy_from_lonlat(cameras["lon"], cameras["lat"], crs)
    osm_m = osm.to_crs(crs) if len(osm) else osm
    osm_xy = shapely.get_coordinates(osm_m.geometry.to_numpy()) if len(osm) else np.zeros((0, 2))
    unc = cameras["uncertainty_m"].to_numpy(float) if "uncertainty_m" in cameras else np.zeros(n_cam)
    radius = match_radius_m(unc)
    ci, oj, dist = match_cameras(cam_xy, radius, osm_xy)
    shared = np.zeros(len(ci), dtype=bool)
    si, sj, sd = nearest_within(np.setdiff1d(np.arange(n_cam), ci), cam_xy, radius, osm_xy)
    if len(si):
        ci, oj, dist = np.concatenate([ci, si]), np.concatenate([oj, sj]), np.concatenate([dist, sd])
        shared = np.concatenate([shared, np.ones(len(si), dtype=bool)])
    o_class = osm_class(osm["camera:type"] if "camera:type" in osm else [None] * len(osm))
    c_class = cameras["class_name"].astype(str).to_numpy() if n_cam else np.zeros(0, dtype=object)
    return _Matched(cam_xy, osm_xy, unc, radius, ci, oj, dist, shared, o_class, c_class)


def strip_membership(m: _Matched, surveyed: gpd.GeoDataFrame, widths: dict[str, float], *, side: str | None
                     ) -> dict[str, np.ndarray]:
    """Step 2: distances to the surveyed streets and whether each camera lies in the strip (per
    class: the OSM camera's class, directed where OSM does not say), as the estimate's."""
    o_dist, _, _ = street_distance(m.osm_xy, surveyed)
    o_in = cameras_in_strip(m.osm_xy, np.array([k or "directed" for k in m.o_class], dtype=object), surveyed,
                            widths, side=side)
    c_dist, _, _ = street_distance(m.cam_xy, surveyed)
    c_in = cameras_in_strip(m.cam_xy, m.c_class, surveyed, widths, side=side)
    return {"o_dist": o_dist, "o_in": o_in, "c_dist": c_dist, "c_in": c_in}


def find_step(m: _Matched, where: dict, *, surveyed, views, recall_at, spacing_m: float, buildings, n_shifts: int,
              images: pd.DataFrame | None, camera_sd: float = CAMERA_LOGIT_SD) -> dict:
    """Step 3: p_find and the views expected to show each unseen or confirmed OSM camera; 0 for an
    unmatched node within locate's merge reach of a located camera that matched another node
    (one located camera stands for both: the survey could not have told them apart)."""
    n_osm = len(m.osm_xy)
    unmatched = m.unmatched_osm
    p_find = np.full(n_osm, np.nan)
    expected: list[list[str]] = [[] for _ in range(n_osm)]
    ask = np.union1d(unmatched[where["o_in"][unmatched]], m.oj)
    if len(ask):
        found, best = find_probability(m.osm_xy[ask], m.o_class[ask], surveyed=surveyed, views=views,
                                       recall_at=recall_at, spacing_m=spacing_m, buildings=buildings,
                                       n_shifts=n_shifts, camera_sd=camera_sd)
        p_find[ask] = found
        ids = (images["image_id"].astype(str).to_numpy() if images is not None and "image_id" in images
               else None)
        for k, rows in zip(ask, best):
            if ids is not None:
                expected[k] = [str(ids[r % len(ids)]) for r in rows]  # mirrored views (random sides) wrap
    merged_with = np.full(n_osm, -1, dtype=np.int64)
    if len(m.ci) and len(unmatched):
        reach = np.maximum(MERGE_M, 2.0 * np.nan_to_num(m.unc[m.ci]))
        d = np.hypot(*(m.osm_xy[unmatched][:, None, :] - m.cam_xy[m.ci][None, :, :]).transpose(2, 0, 1))
        near = d <= reach[None, :]
        hit = near.any(axis=1)
        merged_with[unmatched[hit]] = m.oj[np.argmax(np.where(near, -d, -np.inf), axis=1)[hit]]
    inseparable = merged_with >= 0
    p_find = np.where(inseparable & np.isfinite(p_find), 0.0, p_find)
    return {"p_find": p_find, "expected": expected, "merged_with": merged_with, "inseparable": inseparable}


def comparison_rows(cameras: pd.DataFrame, osm: gpd.GeoDataFrame, m: _Matched, where: dict, found: dict, *,
                    q: np.ndarray, crops, buildings) -> list[dict]:
    """Step 4: the rows: confirmed pairs, new located cameras, unseen and outside OSM cameras."""
    tags = [_tags_of(row) for _, row in osm.iterrows()] if len(osm) else []
    osm_ids = osm["osm_id"].astype(str).to_numpy() if "osm_id" in osm else np.arange(len(osm)).astype(str)
    ll_osm = shapely.get_coordinates(osm.to_crs(4326).geometry.to_numpy()) if len(osm) else np.zeros((0, 2))
    wall = _near_wall(m.cam_xy, buildings)
    p_find, c_class, unc = found["p_find"], m.c_class, m.unc

    def camera_part(i: int) -> dict:
        image_ids = cameras["image_ids"].iloc[i] if "image_ids" in cameras else None
        image_ids = [str(v) for v in image_ids] if image_ids is not None and not _isnan(image_ids) else []
        method = str(cameras["method"].iloc[i]) if "method" in cameras else None
        return {"camera_id": int(cameras["camera_id"].iloc[i]), "p_real": float(q[i]), "class_name": c_class[i],
                "n_views": _int(cameras, "n_views", i), "n_detections": _int(cameras, "n_detections", i),
                "conf_max": _float(cameras, "conf_max", i), "method": method, "uncertainty_m": float(unc[i]),
                "camera_lon": float(cameras["lon"].iloc[i]), "camera_lat": float(cameras["lat"].iloc[i]),
                "image_ids": image_ids, "crops": list(crops[i]) if crops is not None else [],
                "suggested_tags": json.dumps(suggested_tags(c_class[i], method=method, wall=bool(wall[i])))}

    def osm_part(j: int) -> dict:
        return {"osm_id": osm_ids[j], "osm_class": m.o_class[j], "osm_lon": float(ll_osm[j, 0]),
                "osm_lat": float(ll_osm[j, 1]), "osm_tags": json.dumps(tags[j]), "p_find": _nan(p_find[j]),
                "expected_views": found["expected"][j]}

    rows = []
    for i, j, d, again in zip(m.ci, m.oj, m.dist, m.shared):
        agree = None if m.o_class[j] is None else bool(m.o_class[j] == c_class[i])
        rows.append({**_blank(), **camera_part(i), **osm_part(j), "status": "confirmed",
                     "lon": float(cameras["lon"].iloc[i]), "lat": float(cameras["lat"].iloc[i]),
                     "distance_m": float(d), "match_radius_m": float(m.radius[i]), "class_agree": agree,
                     "in_strip": bool(where["c_in"][i] or where["o_in"][j]),
                     "street_distance_m": _nan(where["c_dist"][i]), "suggested_tags": None,
                     "evidence": (f"located camera {int(cameras['camera_id'].iloc[i])} ({c_class[i]}, "
                                  f"P(real) {q[i]:.2f}, {_int(cameras, 'n_views', i)} views) {d:.1f} m from OSM "
                                  f"node {osm_ids[j]} (match radius {m.radius[i]:.1f} m)"
                                  + ("; the node is matched by another located camera too" if again else "")
                                  + ("" if agree is None else f"; class {'agrees' if agree else 'differs'}")),
                     "shared_match": bool(again)})
    for i in np.setdiff1d(np.arange(len(cameras)), m.ci):
        rows.append({**_blank(), **camera_part(i), "status": "new", "lon": float(cameras["lon"].iloc[i]),
                     "lat": float(cameras["lat"].iloc[i]), "match_radius_m": float(m.radius[i]),
                     "in_strip": bool(where["c_in"][i]), "street_distance_m": _nan(where["c_dist"][i]),
                     "evidence": (f"located camera {int(cameras['camera_id'].iloc[i])} ({c_class[i]}, P(real) "
                                  f"{q[i]:.2f}, {_int(cameras, 'n_views', i)} views, "
                                  f"{_int(cameras, 'n_detections', i)} "
                                  f"detections, position +- {unc[i]:.1f} m) with no OSM camera within "
                                  f"{m.radius[i]:.1f} m")})
    for j in m.unmatched_osm:
        rows.append({**_blank(), **osm_part(j), **unmatched_row(j, m, where, found, osm_ids, ll_osm)})
    return rows


def unmatched_row(j: int, m: _Matched, where: dict, found: dict, osm_ids: np.ndarray, ll_osm: np.ndarray) -> dict:
    """The status, place and evidence of an OSM camera no located camera matched."""
    status = "unseen" if where["o_in"][j] else "outside"
    p_find = found["p_find"]
    text = (f"OSM node {osm_ids[j]} inside the strip, matched by no located camera; this survey would "
            f"have found it with probability {p_find[j]:.2f}" if status == "unseen" else
            f"OSM node {osm_ids[j]} outside the survey's strip: the survey says nothing about it")
    if status == "unseen" and found["inseparable"][j]:
        text += (f" as a camera of its own: it lies within locate's merge reach of the located camera that "
                 f"matched node {osm_ids[found['merged_with'][j]]}, so the survey cannot tell the two apart")
    return {"status": status, "lon": float(ll_osm[j, 0]), "lat": float(ll_osm[j, 1]),
            "in_strip": bool(where["o_in"][j]), "street_distance_m": _nan(where["o_dist"][j]), "evidence": text}


def comparison_frame(rows: list[dict]) -> gpd.GeoDataFrame:
    """Step 5: the rows as the table (typed columns, sorted by status, P(real), p_find), EPSG:4326."""
    frame = pd.DataFrame(rows, columns=list(COLUMNS)) if rows else pd.DataFrame({c: [] for c in COLUMNS})
    frame["camera_id"] = pd.array(frame["camera_id"], dtype="Int64")
    for name in ("n_views", "n_detections"):
        frame[name] = pd.array(frame[name], dtype="Int64")
    frame["class_agree"] = pd.array(frame["class_agree"], dtype="boolean")
    frame["shared_match"] = frame["shared_match"].fillna(False).astype(bool)
    frame["in_strip"] = frame["in_strip"].astype(bool)
    order = {s: k for k, s in enumerate(STATUSES)}
    frame = frame.sort_values(["status", "p_real", "p_find"], key=lambda s: s.map(order) if s.name == "status"
                              else -s.fillna(-1), kind="stable").reset_index(drop=True)
    return gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(frame["lon"], frame["lat"]), crs=4326)


def summary_from_table(table: pd.DataFrame, *, strip: float | dict, n_osm: int, n_located: int,
                       high: float = 0.8) -> dict:
    """report.json's ``osm_compare``: counts by status, class agreement of the confirmed, and how
    many new candidates and unseen cameras reach ``high`` P(real) / p_find."""
    counts = {s: int((table["status"] == s).sum()) for s in STATUSES}
    conf = table[table["status"] == "confirmed"]
    known = conf["class_agree"].dropna()
    return {
        "n_osm_cameras": int(n_osm), "n_located": int(n_located), "counts": counts,
        "strip_m": strip,
        "match": {"base_m": MATCH_BASE_M, "sigmas": MATCH_SIGMAS, "max_m": MATCH_MAX_M,
                  "rule": "one-to-one (Hungarian) within hypot(base, sigmas x uncertainty_m), at most max"},
        "class_agreement": {"n_known": int(len(known)), "n_agree": int(known.astype(bool).sum()),
                            "share": float(known.astype(bool).mean()) if len(known) else None},
        "new_p_real_at_least": {"threshold": high,
                                "n": int(((table["status"] == "new") & (table["p_real"] >= high)).sum())},
        "unseen_p_find_at_least": {"threshold": high,
                                   "n": int(((table["status"] == "unseen") & (table["p_find"] >= high)).sum())},
        "note": "candidates are evidence for a person to check, never edits; nothing is uploaded",
    }


# --- the survey ---------------------------------------------------------------------------------

def compare_survey(
    survey_dir: str | Path,
    *,
    calibration: dict | None = None,
    precision: float | None = None,
    recall: float | None = None,
    strip: float | dict | None = None,
    osm: gpd.GeoDataFrame | None = None,
    buildings: Any = "auto",
    exports: bool = True,
    crops: bool = True,
) -> CompareResult:
    """Compare a located survey with the OSM cameras of its area and write the outputs.

    ``calibration``: the shared calibration dict (the review's, else the model card's); else scalar
    ``precision`` / ``recall`` (else 1.0). p_find follows the calibration the estimate used: the
    recall by box size that report.json records (``recall_of_estimate``), whatever its source (a
    card, a review, the survey's own fit); ``calibration`` only when the survey has no estimate.
    ``strip``: half-width (m, or per class); default the one report.json records (the
    estimate's, per class), else "auto" as the estimate decides it
    (``geo.counting.estimate.strip_by_class``). ``osm``: the OSM cameras
    (default: ``surveillance_from_area`` of the survey's area). Raises ``GeoInputError`` with a
    one-line message when the survey has no located cameras table or its area no OSM cameras
    (nothing is written then). Writes osm_compare.geojson, osm_compare.parquet, the exports of
    ``geo.outputs.osm_exports`` and report.json's ``osm_compare``."""
    from geo.counting.calibration import calibration_from_dict, calibration_from_rates

    survey_dir = Path(survey_dir)
    info, osm, report = compare_inputs(survey_dir, osm=osm)
    if strip is None:  # the estimate's strip (per class), else decided here as the estimate would
        params = report.get("parameters") or {}
        strip = params.get("strip_m_by_class") or params.get("strip_m") or STRIP_DEFAULT
    cal = calibration_from_dict(calibration if calibration is not None else calibration_from_rates(
        1.0 if precision is None else float(precision), 1.0 if recall is None else float(recall), source="scalar"))
    followed = recall_of_estimate(report)
    recall_at, recall_source = followed if followed is not None else (cal.curves().recall_at, cal.source)
    model = (report.get("parameters") or {}).get("p_real_model")  # P(real) as the estimate made it (issue 27)
    g = survey_geometry(survey_dir, info, cal, strip=strip, buildings=buildings, crops=crops,
                        mixture=None if model is None else model == P_REAL_MIXTURE)
    table = compare_from_tables(g["cameras"], osm, surveyed=g["surveyed"], views=g["views"], recall_at=recall_at,
                                p_real=g["q"], strip=g["widths"], spacing_m=g["spacing"], n_shifts=g["shifts"],
                                buildings=g["buildings"], crops=g["crops"], images=g["ok"],
                                side=strip_side(g["design"]), camera_sd=camera_sd_of_estimate(report))
    summary = summary_from_table(table, strip=dict(g["widths"]), n_osm=len(osm), n_located=len(g["cameras"]))
    summary["p_find"] = ("inclusion probability at the mapped position over the grid's start (systematic design)"
                         if not g["design"].random else "detection probability from this survey's own views (random "
                         "design: the design's inclusion speaks for where points could fall, not for this survey)")
    if g["strip_notes"]:
        summary["warnings"] = g["strip_notes"]
    summary["calibration_source"] = cal.source
    summary["p_find_calibration"] = (f"the estimate's ({recall_source}, report.json)" if followed is not None
                                     else f"{recall_source} (no estimate in report.json)")
    summary["area"] = info.get("area")
    paths = write_compare(survey_dir, table, summary, report=report, info=info,
                          detections=g["detections"]) if exports else {}
    return CompareResult(table=table, summary=summary, paths=paths)


def compare_inputs(survey_dir: Path, *, osm: gpd.GeoDataFrame | None) -> tuple[dict, gpd.GeoDataFrame, dict]:
    """(sample info, OSM cameras, report.json) of a survey; ``GeoInputError`` naming the missing
    stage or an area without OSM cameras."""
    from geo.counting.locate import read_sample_info

    info = read_sample_info(survey_dir)
    for name, stage in (("network.graphml", "sample"), ("points.parquet", "sample"), ("cameras.parquet", "locate")):
        if not (survey_dir / name).exists():
            raise GeoInputError(f"{survey_dir / name} not found: run `camcensus {stage}` first")
    if osm is None:
        osm = osm_cameras_for_survey(info)
    if len(osm) == 0:
        raise GeoInputError(f"the survey's area ({info.get('area')}) has no OpenStreetMap cameras "
                            "(man_made=surveillance nodes): nothing to compare")
    report_path = survey_dir / "report.json"
    report = json.loads(report_path.read_text()) if report_path.exists() else {}
    return info, osm, report


def recall_of_estimate(report: dict) -> tuple[Any, str] | None:
    """(recall_at, source) of the calibration the estimate used: report.json's
    ``calibration.recall_by_size`` (the per-bin recall the estimate read), or None when the
    survey has no estimate (or an older report without it)."""
    from geo.counting.calibration import recall_at

    cal = report.get("calibration") or {}
    by_size = cal.get("recall_by_size") or {}
    try:
        edges = np.asarray(by_size["edges_px"], float)
        rates = np.asarray(by_size["recall"], float)
    except (KeyError, TypeError, ValueError):
        return None
    if len(edges) != len(rates) + 1 or not len(rates) or not np.all(np.isfinite(rates)):
        return None
    return (lambda size_px: recall_at(size_px, edges, rates)), str(cal.get("source", "estimate"))


def camera_sd_of_estimate(report: dict) -> float:
    """The per-camera logit SD the estimate used: report.json's ``self_calibration.camera_logit_sd``
    where the estimate used the survey's own fit (issue 26: a flagged survey may read its own), else
    ``CAMERA_LOGIT_SD``."""
    own = report.get("self_calibration") or {}
    sd = own.get("camera_logit_sd") if own.get("used") else None
    return float(sd) if isinstance(sd, (int, float)) and sd >= 0 else CAMERA_LOGIT_SD


def survey_geometry(survey_dir: Path, info: dict, cal, *, strip, buildings, crops: bool,
                    mixture: bool | None = None) -> dict:
    """The survey's located cameras with P(real) (``reality_of_cameras``, ``mixture`` passed on), its
    design, surveyed streets, views and the strip per class, the buildings (metric CRS) and the
    cameras' best crops."""
    from geo.counting.design import design_from_sample_info
    from geo.counting.locate import buildings_for_survey, read_cameras, read_detections, read_images
    from geo.streets.network import load_network, streets_from_graph

    cameras = read_cameras(survey_dir / "cameras.parquet")
    images = read_images(survey_dir)
    detections = read_detections(survey_dir)
    used = detections
    if "conf" in detections and len(detections):
        used = detections[detections["conf"].fillna(1.0).to_numpy(float) >= cal.conf_threshold - 1e-9]
    n_ok = int(images["status"].fillna("ok").eq("ok").sum()) if "status" in images else len(images)
    streets = streets_from_graph(load_network(survey_dir / "network.graphml"))
    points = pd.read_parquet(survey_dir / "points.parquet", columns=["point_id", "street_id", "lon", "lat"])
    design = design_from_sample_info(info, images=images,
                                     network_m=float(shapely.length(streets.geometry.to_numpy()).sum()))
    widths, strip_notes = strip_by_class(strip, design=design, calibration=cal)
    spacing, shifts = (design.spacing_m, DEFAULT_SHIFTS) if not design.random else (design.spacing_m, 1)
    surveyed = (streets[["street_id", "geometry"]] if design.random
                else surveyed_streets(streets, points, images, metres_per_point=spacing))
    ok = images[images["status"].fillna("ok").eq("ok")] if "status" in images.columns else images
    ok = ok.drop_duplicates("image_id").reset_index(drop=True)
    if isinstance(buildings, str) and buildings == "auto":
        buildings = buildings_for_survey(info)
    q = reality_of_cameras(cameras, used, cal, n_images=n_ok, mixture=mixture)
    return {"cameras": cameras, "detections": detections, "q": q,
            "design": design, "widths": widths, "strip_notes": strip_notes, "spacing": spacing, "shifts": shifts,
            "surveyed": surveyed, "ok": ok,
            "views": views_for_inclusion(ok, streets.crs, random_sides=design.sides == "random"),
            "buildings": buildings.to_crs(streets.crs) if buildings is not None and len(buildings) else None,
            "crops": best_crops(cameras, used, images, root=survey_dir) if crops else None}


def write_compare(survey_dir: Path, table: gpd.GeoDataFrame, summary: dict, *, report: dict, info: dict,
                  detections: pd.DataFrame) -> dict[str, Path]:
    """Write osm_compare.geojson / .parquet, the OSM exports, the map's layers and report.json's
    ``osm_compare`` (``summary`` gains provenance and file names); the paths written."""
    from geo.io import write_text
    from geo.outputs.osm_exports import write_osm_exports

    paths: dict[str, Path] = {}
    provenance = provenance_for_survey(survey_dir, info=info, detections=detections, report=report)
    paths["geojson"] = write_text(survey_dir / COMPARE_GEOJSON, table_to_geojson(table))
    paths["parquet"] = write_table(table, survey_dir / COMPARE_PARQUET)
    paths.update(write_osm_exports(table, survey_dir, provenance=provenance))
    if (survey_dir / "map.html").exists():
        from geo.outputs.mapview import add_osm_layers

        paths["map"] = add_osm_layers(survey_dir / "map.html", table)
    summary["provenance"] = provenance
    summary["files"] = {k: Path(v).name for k, v in paths.items()}
    report["osm_compare"] = summary
    write_text(survey_dir / "report.json", json.dumps(report, indent=2, default=_plain, allow_nan=False))
    return paths


def osm_cameras_for_survey(info: dict) -> gpd.GeoDataFrame:
    """The OSM cameras of the survey's area (``sample.json``'s ``area``); ``GeoInputError`` when
    the survey names no area or its cameras cannot be read."""
    from geo.sim.features import surveillance_from_area

    area = info.get("area")
    if not area:
        raise GeoInputError("the survey names no area (sample.json): cannot read its OpenStreetMap cameras")
    cams = surveillance_from_area(str(area))
    if "surveillance:type" in cams.columns and len(cams):
        kind = cams["surveillance:type"]
        cams = cams[kind.isna() | kind.astype(str).str.lower().eq("camera")]  # not guards, ALPR kept separate
    return cams.reset_index(drop=True)


def best_crops(cameras: pd.DataFrame, detections: pd.DataFrame, images: pd.DataFrame, *, root: Path,
               k: int = N_CROPS) -> list[list[str]]:
    """Up to ``k`` crops per located camera (data URIs, best detection first), made by
    ``geo.outputs.thumbnails.camera_thumbnails`` from each camera's k most confident detections."""
    from geo.outputs.thumbnails import THUMB_PX, camera_thumbnails

    out: list[list[str]] = [[] for _ in range(len(cameras))]
    if len(cameras) == 0 or detections is None or len(detections) == 0:
        return out
    left = detections.reset_index(drop=True)
    for _ in range(k):
        found = camera_thumbnails(cameras, left, images, root=root, size=THUMB_PX * 2, limit=len(cameras))
        for i, uri in enumerate(found):
            if uri:
                out[i].append(uri)
        from geo.outputs.thumbnails import best_detections

        best = best_detections(cameras, left)
        if len(best) == 0:
            break
        taken = set(zip(best["image_id"].astype(str), best["x1"], best["y1"], best["x2"], best["y2"]))
        keys = zip(left["image_id"].astype(str), left["x1"], left["y1"], left["x2"], left["y2"])
        left = left[[key not in taken for key in keys]].reset_index(drop=True)
        if len(left) == 0:
            break
    return out


def provenance_for_survey(survey_dir: Path, *, info: dict, detections: pd.DataFrame, report: dict) -> dict:
    """Where every claim comes from: the survey, its area, the imagery provider, the model, the
    camcensus version."""
    try:
        from importlib.metadata import version

        tool = f"camcensus {version('camcensus')}"
    except Exception:
        tool = "camcensus"
    models = sorted(str(m) for m in detections["model_id"].dropna().unique()) if "model_id" in detections else []
    provider = None
    images_path = survey_dir / "images.parquet"
    if images_path.exists():
        prov = pd.read_parquet(images_path, columns=["provider"])["provider"].dropna().unique()
        provider = ", ".join(sorted(map(str, prov))) or None
    return {"tool": tool, "survey": survey_dir.name, "area": info.get("area"), "provider": provider,
            "model": ", ".join(models) or None, "sampling": f"{info.get('method')} {info.get('spacing_m')} m"}


def table_to_geojson(table: gpd.GeoDataFrame) -> str:
    """The comparison table as a GeoJSON FeatureCollection (lists and tags as JSON values)."""
    features = []
    for row in table.drop(columns="geometry").to_dict("records"):
        props = {k: _plain(v) for k, v in row.items()}
        for key in ("osm_tags", "suggested_tags"):
            if isinstance(props.get(key), str):
                props[key] = json.loads(props[key])
        features.append({"type": "Feature", "properties": props,
                         "geometry": {"type": "Point", "coordinates": [round(row["lon"], 7), round(row["lat"], 7)]}})
    return json.dumps({"type": "FeatureCollection", "features": features}, allow_nan=False)


def write_table(table: gpd.GeoDataFrame, path: Path) -> Path:
    """The comparison table as GeoParquet (atomic)."""
    from geo.io import atomic_path

    with atomic_path(path) as tmp:
        table.to_parquet(tmp, index=False)
    return Path(path)


def read_compare(survey_dir: str | Path) -> gpd.GeoDataFrame | None:
    """``osm_compare.parquet`` of a survey (None when absent)."""
    path = Path(survey_dir) / COMPARE_PARQUET
    return gpd.read_parquet(path) if path.exists() else None


def reality_of_cameras(cameras: pd.DataFrame, detections: pd.DataFrame, cal, *, n_images: int,
                       mixture: bool | None = None) -> np.ndarray:
    """P(real) of each located camera, as the estimate computes it: with a card's false rate per
    image x the survey's ``n_images`` ok images, the per-bin mixture of real and false singles with
    the survey's rate learnt from its singles (``geo.counting.estimate.reality_from_rate``), where
    ``mixture`` (default: ``geo.counting.estimate.mixture_for``; the estimate's choice is report.json's
    ``parameters.p_real_model``); else the expected false detections (or 1 - a review's precision per
    detection) spent first on the bin's single-detection cameras (``false_detections_by_bin``,
    ``reality_from_false``)."""
    if len(cameras) == 0:
        return np.zeros(0)
    conf = detections["conf"].fillna(1.0).to_numpy(float) if "conf" in detections else np.ones(len(detections))
    curves = cal.curves()
    rate = cal.false_rates() if cal.uses_false_rate() else None
    if rate is not None and (mixture_for(cal) if mixture is None else mixture):  # the per-bin mixture (issue 27)
        return reality_from_rate(cameras["n_detections"].to_numpy(float),
                                 cameras["conf_max"].fillna(1.0).to_numpy(float) if "conf_max" in cameras
                                 else np.ones(len(cameras)), rate * float(n_images), cal.real_share(),
                                 curves.conf_edges, prior_images=cal.false_prior()[1], n_images=float(n_images))
    false_b = false_detections_by_bin(conf, curves.conf_edges, precision=curves.precision, false_rate=rate,
                                      n_images=n_images)
    return reality_from_false(cameras["n_detections"].to_numpy(float),
                              cameras["conf_max"].fillna(1.0).to_numpy(float) if "conf_max" in cameras
                              else np.ones(len(cameras)), conf, false_b, curves.conf_edges)


# --- helpers --------------------------------------------------------------------------------

def _near_wall(xy: np.ndarray, buildings: gpd.GeoDataFrame | None, *, within_m: float = 1.0) -> np.ndarray:
    out = np.zeros(len(xy), dtype=bool)
    if buildings is None or len(buildings) == 0 or len(xy) == 0:
        return out
    outlines = shapely.boundary(buildings.geometry.to_numpy())
    hit = shapely.STRtree(outlines).query(shapely.points(xy), predicate="dwithin", distance=within_m)[0]
    out[hit] = True
    return out


def _tags_of(row: pd.Series) -> dict[str, str]:
    skip = {"osm_id", "geometry"}
    return {k: str(v) for k, v in row.items() if k not in skip and isinstance(v, str) and v.strip()}


def _blank() -> dict:
    return {c: None for c in COLUMNS} | {"image_ids": [], "expected_views": [], "crops": []}


def _isnan(value: Any) -> bool:
    return isinstance(value, float) and np.isnan(value)


def _nan(value: float) -> float | None:
    return float(value) if value is not None and np.isfinite(value) else None


def _int(frame: pd.DataFrame, name: str, i: int) -> int | None:
    if name not in frame:
        return None
    value = frame[name].iloc[i]
    return None if pd.isna(value) else int(value)


def _float(frame: pd.DataFrame, name: str, i: int) -> float | None:
    if name not in frame:
        return None
    value = frame[name].iloc[i]
    return None if pd.isna(value) else float(value)


def _plain(value: Any) -> Any:
    if value is None or value is pd.NA:
        return None
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if not np.isfinite(value) else float(value)
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
