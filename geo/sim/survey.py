"""The ``simulated`` imagery provider: render every view of a survey with exact ground truth.

``simulate_survey`` reads the survey's ``views.parquet`` (and ``sample.json``,
``network.graphml``), builds the area's scene once (:func:`geo.sim.scene.scene_from_area`), renders
the views not yet rendered in parallel processes and writes ``images/<view_id>.jpg``,
``images.parquet``, ``truth_boxes.parquet`` and ``truth.geojson``.

Resumable: each image is written atomically, and its boxes are appended in small part files
under ``.simulated/`` (also atomic), so ``kill -9`` loses nothing saved and a rerun renders only
what is missing. Deterministic: a view's image and boxes depend only on the scene, the view and
``seed``, never on the order or the process that renders it.
"""

from __future__ import annotations

import json
import math
import multiprocessing as mp
import os
import sys
import time
import zlib
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.errors import GeoInputError
from geo.io import write_bytes, write_parquet, write_text
from geo.schemas import IMAGES, TRUTH_BOXES, columns
from geo.sim.render import boxes_for_view, jpeg_quality, render_view
from geo.sim.scene import Scene, default_sim_cameras, scene_from_area

PROVIDER = "simulated"
STATE_DIR = ".simulated"
FLUSH_EVERY = 64  # views per part file

_SCENE: Scene | None = None  # the scene this process renders (set in each worker)


def view_seed(seed: int, view_id: str) -> int:
    """The render seed of one view: a function of the survey seed and the view id only."""
    return zlib.crc32(f"{int(seed)}:{view_id}".encode())


def simulate_survey(
    survey_dir: Path,
    *,
    area: str | None = None,
    sim_cameras: str | None = None,
    seed: int = 0,
    width: int = 640,
    height: int = 640,
    workers: int | None = None,
    progress: bool = True,
    style: str = "default",
) -> pd.DataFrame:
    """Render the views of ``survey_dir`` and write the images table and the ground truth.

    ``area`` defaults to the one in ``sample.json``; ``sim_cameras`` is "osm", "random:D[:SEED]"
    or a GeoJSON of points (None: "osm" for the demo area, else "random:1"); ``style`` the
    renderer's look (``geo.sim.render.STYLES``; "alt" is never used in training); ``width`` and
    ``height`` in pixels; ``workers`` render processes (default: CPU count; started from a
    forkserver, each receives the scene once). A rerun renders only views without an image (or
    whose render failed). Returns the images table
    (view_id, image_id, provider, path, width, height, lon, lat, heading, fov, pitch,
    captured_at, status, error).
    """
    from geo.streets.network import load_network

    survey_dir = Path(survey_dir)
    views_path = survey_dir / "views.parquet"
    if not views_path.exists():
        raise FileNotFoundError(f"{views_path} not found: run `camcensus sample` first")
    if width < 16 or height < 16:
        raise GeoInputError(f"image size must be at least 16x16 px, got {width}x{height}")
    from geo.sim.render import STYLES

    if style not in STYLES:
        raise GeoInputError(f"unknown style '{style}': choose one of {', '.join(STYLES)}")
    info = _read_json(survey_dir / "sample.json")
    area = area or info.get("area")
    if not area:
        raise GeoInputError(
            f"no area given and {survey_dir / 'sample.json'} names none: pass --area"
        )
    views = gpd.read_parquet(views_path)
    if len(views) == 0:
        raise GeoInputError(f"{views_path} has no views")
    state = survey_dir / STATE_DIR
    if sim_cameras is None:
        sim_cameras = default_sim_cameras(area)
    params = {
        "area": str(area),
        "sim_cameras": str(sim_cameras),
        "seed": int(seed),
        "width": int(width),
        "height": int(height),
    }
    _check_params(state, params)
    graph_path = survey_dir / "network.graphml"
    graph = load_network(graph_path) if graph_path.exists() else None
    scene = scene_from_area(area, graph=graph, sim_cameras=sim_cameras, seed=seed)
    tasks = _tasks(views, scene, seed=seed, width=width, height=height)
    for task in tasks:
        task["style"] = style

    images_dir = survey_dir / "images"
    images_dir.mkdir(parents=True, exist_ok=True)
    state.mkdir(exist_ok=True)
    write_text(state / "params.json", json.dumps(params, indent=2))
    done = _read_parts(state)
    done = {
        vid: rec
        for vid, rec in done.items()  # views that ended in error are tried again
        if rec["status"] == "ok" and (images_dir / f"{vid}.jpg").exists()
    }
    todo = [t for t in tasks if t["view_id"] not in done]
    # Images already on disk whose boxes were not saved (killed in between): boxes only.
    orphans = [t for t in todo if (images_dir / f"{t['view_id']}.jpg").exists()]
    orphan_ids = {t["view_id"] for t in orphans}
    todo = [t for t in todo if t["view_id"] not in orphan_ids]
    writer = _PartWriter(state)
    global _SCENE
    _SCENE = scene
    for task in orphans:
        boxes = boxes_for_view(
            scene,
            x=task["x"],
            y=task["y"],
            heading=task["grid_heading"],
            pitch=task["pitch"],
            fov=task["fov"],
            width=width,
            height=height,
        )
        writer.add(_record(task["view_id"], "ok", None, boxes))
    writer.flush()
    if todo:
        _render_all(todo, images_dir, writer, workers=workers, progress=progress)
    writer.flush()
    return _finish(survey_dir, views, tasks, scene, _read_parts(state), width=width, height=height)


# --- tasks and workers --------------------------------------------------------------------------


def _tasks(
    views: gpd.GeoDataFrame, scene: Scene, *, seed: int, width: int, height: int
) -> list[dict]:
    from pyproj import CRS, Transformer

    from geo.streets.sampling import true_north_correction

    crs = CRS.from_user_input(scene.crs)
    lon = views["lon"].to_numpy(dtype=float) if "lon" in views else views.geometry.x.to_numpy()
    lat = views["lat"].to_numpy(dtype=float) if "lat" in views else views.geometry.y.to_numpy()
    x, y = Transformer.from_crs(4326, crs, always_xy=True).transform(lon, lat)
    heading = views["heading"].to_numpy(dtype=float)
    grid_heading = np.mod(heading - true_north_correction(lon, lat, crs), 360.0)
    pitch = views["pitch"].to_numpy(dtype=float) if "pitch" in views else np.zeros(len(views))
    fov = views["fov"].to_numpy(dtype=float) if "fov" in views else np.full(len(views), 90.0)
    ids = views["view_id"].astype(str).to_numpy()
    if len(set(ids)) != len(ids):
        raise GeoInputError("views.parquet has duplicate view_id values")
    return [
        {
            "view_id": ids[i],
            "x": float(x[i]),
            "y": float(y[i]),
            "grid_heading": float(grid_heading[i]),
            "heading": float(heading[i]),
            "pitch": float(pitch[i]),
            "fov": float(fov[i]),
            "lon": float(lon[i]),
            "lat": float(lat[i]),
            "seed": view_seed(seed, ids[i]),
            "width": width,
            "height": height,
        }
        for i in range(len(ids))
    ]


def _render_one(task: dict, images_dir: Path) -> dict:
    """Render one view, write its JPEG atomically, return its record (status and boxes)."""
    import cv2

    try:
        image, boxes = render_view(
            _SCENE,
            x=task["x"],
            y=task["y"],
            heading=task["grid_heading"],
            pitch=task["pitch"],
            fov=task["fov"],
            width=task["width"],
            height=task["height"],
            seed=task["seed"],
            style=task.get("style", "default"),
        )
        ok, data = cv2.imencode(
            ".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality(task["seed"])]
        )
        if not ok:
            raise RuntimeError("JPEG encoding failed")
        write_bytes(images_dir / f"{task['view_id']}.jpg", data.tobytes())
        return _record(task["view_id"], "ok", None, boxes)
    except Exception as error:  # one bad view must not stop the survey
        return _record(task["view_id"], "error", f"{type(error).__name__}: {error}"[:300], None)


def _init_worker(scene: Scene) -> None:
    """Receive the scene; one OpenCV thread per render process (processes are the parallelism)."""
    import cv2

    global _SCENE
    _SCENE = scene
    cv2.setNumThreads(1)


def _worker_batch(args: tuple[list[dict], str]) -> list[dict]:
    tasks, images_dir = args
    return [_render_one(task, Path(images_dir)) for task in tasks]


def _render_all(
    todo: list[dict], images_dir: Path, writer: _PartWriter, *, workers: int | None, progress: bool
) -> None:
    workers = max(1, min(workers or os.cpu_count() or 1, len(todo)))
    batch = 8
    batches = [(todo[i : i + batch], str(images_dir)) for i in range(0, len(todo), batch)]
    report = _Progress(len(todo), enabled=progress)
    try:
        if workers == 1:
            for args in batches:
                for record in _worker_batch(args):
                    writer.add(record)
                report.advance(len(args[0]))
        else:
            # forkserver: workers start from a clean process (forking one that already runs
            # OpenCV or OpenMP threads can deadlock); each receives the scene once.
            context = mp.get_context("forkserver")
            context.set_forkserver_preload(["geo.sim.render", "geo.sim.scene"])
            with context.Pool(workers, initializer=_init_worker, initargs=(_SCENE,)) as pool:
                for records in pool.imap_unordered(_worker_batch, batches):
                    for record in records:
                        writer.add(record)
                    report.advance(len(records))
    finally:
        writer.flush()
        report.close()


def _record(view_id: str, status: str, error: str | None, boxes: pd.DataFrame | None) -> dict:
    rows = (
        []
        if boxes is None
        else [
            [
                r.camera_id,
                r.class_name,
                round(float(r.x1), 2),
                round(float(r.y1), 2),
                round(float(r.x2), 2),
                round(float(r.y2), 2),
            ]
            for r in boxes.itertuples()
        ]
    )
    return {"view_id": view_id, "status": status, "error": error, "boxes": json.dumps(rows)}


# --- part files -----------------------------------------------------------------------------------


class _PartWriter:
    """Buffers view records and writes them as atomic part files under ``.simulated/``."""

    def __init__(self, state: Path) -> None:
        self.state = state
        self.buffer: list[dict] = []
        existing = sorted(state.glob("part-*.parquet"))
        self.next = int(existing[-1].stem.split("-")[1]) + 1 if existing else 0
        self.last = time.monotonic()

    def add(self, record: dict) -> None:
        self.buffer.append(record)
        if len(self.buffer) >= FLUSH_EVERY or time.monotonic() - self.last > 10:
            self.flush()

    def flush(self) -> None:
        self.last = time.monotonic()
        if not self.buffer:
            return
        part = pd.DataFrame(self.buffer, columns=["view_id", "status", "error", "boxes"])
        write_parquet(part, self.state / f"part-{self.next:06d}.parquet")
        self.next += 1
        self.buffer = []


def _read_parts(state: Path) -> dict[str, dict]:
    records: dict[str, dict] = {}
    for path in sorted(state.glob("part-*.parquet")) if state.exists() else []:
        for rec in pd.read_parquet(path).to_dict("records"):
            records[rec["view_id"]] = rec  # a later part wins
    return records


# --- outputs --------------------------------------------------------------------------------------


def _finish(
    survey_dir: Path,
    views: gpd.GeoDataFrame,
    tasks: list[dict],
    scene: Scene,
    records: dict[str, dict],
    *,
    width: int,
    height: int,
) -> pd.DataFrame:
    image_rows, box_rows = [], []
    for task in tasks:
        rec = records.get(task["view_id"])
        if rec is None:
            continue
        vid = task["view_id"]
        ok = rec["status"] == "ok"
        image_rows.append(
            {
                "view_id": vid,
                "image_id": vid,
                "provider": PROVIDER,
                "path": f"images/{vid}.jpg" if ok else None,
                "width": width,
                "height": height,
                "lon": task["lon"],
                "lat": task["lat"],
                "heading": task["heading"],
                "fov": task["fov"],
                "pitch": task["pitch"],
                "captured_at": None,
                "status": rec["status"],
                "error": rec["error"]
                if rec["error"] is not None and rec["error"] == rec["error"]
                else None,
            }
        )
        if ok:
            for camera_id, class_name, x1, y1, x2, y2 in json.loads(rec["boxes"]):
                box_rows.append(
                    {
                        "image_id": vid,
                        "camera_id": camera_id,
                        "class_name": class_name,
                        "x1": x1,
                        "y1": y1,
                        "x2": x2,
                        "y2": y2,
                    }
                )
    images = pd.DataFrame(image_rows, columns=columns(IMAGES))
    images["captured_at"] = images["captured_at"].astype(object)
    boxes = pd.DataFrame(box_rows, columns=columns(TRUTH_BOXES))
    boxes = boxes.astype({"x1": float, "y1": float, "x2": float, "y2": float})
    write_parquet(images, survey_dir / "images.parquet", schema=IMAGES)
    write_parquet(boxes, survey_dir / "truth_boxes.parquet", schema=TRUTH_BOXES)
    surveyed = surveyed_for_truth(survey_dir, images)
    write_text(survey_dir / "truth.geojson", json.dumps(truth_features(scene, boxes, surveyed=surveyed)))
    return images


def surveyed_for_truth(survey_dir: Path, images: pd.DataFrame) -> gpd.GeoDataFrame | None:
    """The surveyed street pieces (``geo.counting.inclusion.surveyed_streets``) of a survey directory, in
    the network's CRS (a random design: every street of its network); None without a network or points."""
    from geo.counting.inclusion import surveyed_streets
    from geo.streets.network import load_network, streets_from_graph

    points_path = Path(survey_dir) / "points.parquet"
    graph_path = Path(survey_dir) / "network.graphml"
    if not graph_path.exists() or not points_path.exists():
        return None
    graph = load_network(graph_path)
    info = _read_json(Path(survey_dir) / "sample.json")
    if info.get("method") == "random":  # a random design speaks for every street it was drawn from (issue 19)
        return streets_from_graph(graph)[["street_id", "geometry"]]
    spacing_m = float(info.get("spacing_m") or 20.0)
    points = pd.read_parquet(points_path, columns=["point_id", "street_id", "lon", "lat"])
    views = pd.read_parquet(Path(survey_dir) / "views.parquet", columns=["view_id", "point_id"])
    imgs = images.merge(views, on="view_id", how="left") if "point_id" not in images else images
    return surveyed_streets(streets_from_graph(graph), points, imgs, metres_per_point=spacing_m)


def truth_features(scene: Scene, boxes: pd.DataFrame, *, surveyed: gpd.GeoDataFrame | None = None) -> dict:
    """GeoJSON FeatureCollection of every scene camera: camera_id, class_name, mount_height_m,
    facing (deg from true north), mount, source, seen_by (image ids), street_distance_m (metres to
    the nearest surveyed street piece, ``surveyed`` in the scene's CRS; null without it: the
    estimand is the cameras within the strip of those), Point geometry. When OSM disagrees with
    the scene (``--sim-cameras osm:drop=...``) each camera also has osm_id, osm_status (kept /
    unmapped) and osm_offset_m (m from its OSM node), and the collection an ``osm_removed`` member
    (a foreign member, RFC 7946 section 6.1): the OSM nodes whose camera is gone (osm_id,
    class_name, lon, lat) and ``osm_drift`` (the option's values)."""
    from pyproj import CRS

    from geo.streets.sampling import true_north_correction

    cams = scene.cameras
    drift = "osm_status" in cams.columns or "osm_removed" in scene.meta
    seen = boxes.groupby("camera_id")["image_id"].apply(list).to_dict() if len(boxes) else {}
    features = []
    distance = np.full(len(cams), np.nan)
    if len(cams) and surveyed is not None and len(surveyed):
        from geo.counting.inclusion import street_distance

        distance = street_distance(cams[["x", "y"]].to_numpy(float), surveyed.to_crs(scene.crs))[0]
    if len(cams):
        lon, lat = cams["lon"].to_numpy(), cams["lat"].to_numpy()
        facing = np.mod(
            cams["facing"].to_numpy()
            + true_north_correction(lon, lat, CRS.from_user_input(scene.crs)),
            360,
        )
        for i, row in enumerate(cams.itertuples()):
            features.append(
                {
                    "type": "Feature",
                    "properties": {
                        "camera_id": row.camera_id,
                        "class_name": row.class_name,
                        "mount_height_m": round(float(row.z), 2),
                        "facing": round(float(facing[i]), 1),
                        "mount": row.mount,
                        "source": row.source,
                        "seen_by": seen.get(row.camera_id, []),
                        "street_distance_m": (round(float(distance[i]), 2) if np.isfinite(distance[i])
                                              else None),
                        **(_osm_truth(row) if drift else {}),
                    },
                    "geometry": {
                        "type": "Point",
                        "coordinates": [round(float(lon[i]), 7), round(float(lat[i]), 7)],
                    },
                }
            )
    out = {"type": "FeatureCollection", "features": features}
    if drift:
        out["osm_removed"] = [
            {"type": "Feature", "properties": {"osm_id": r["osm_id"], "class_name": r["class_name"],
                                               "osm_status": "removed"},
             "geometry": {"type": "Point", "coordinates": [round(r["lon"], 7), round(r["lat"], 7)]}}
            for r in scene.meta.get("osm_removed", [])
        ]
        out["osm_drift"] = scene.meta.get("osm_drift")
    return out


def _osm_truth(row) -> dict:
    """A scene camera's OSM fate for the truth: osm_id, osm_status, osm_offset_m."""
    osm_id = getattr(row, "osm_id", None)
    offset = getattr(row, "osm_offset_m", float("nan"))
    return {"osm_id": None if osm_id is None or osm_id != osm_id else str(osm_id),
            "osm_status": getattr(row, "osm_status", None),
            "osm_offset_m": round(float(offset), 2) if offset is not None and np.isfinite(offset) else None}




def _read_json(path: Path) -> dict:
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text())
    except ValueError as error:
        raise GeoInputError(f"{path} is not valid JSON: {error}") from None


def _check_params(state: Path, params: dict) -> None:
    """Refuse to mix images of two different simulations in one survey directory."""
    old = _read_json(state / "params.json")
    if old and old != params:
        changed = ", ".join(k for k in params if old.get(k) != params[k])
        raise GeoInputError(
            f"{state.parent} was already simulated with other parameters ({changed}); "
            "use a new survey directory or the same options"
        )


class _Progress:
    """Rich progress bar on a terminal, a plain line every 10% otherwise."""

    def __init__(self, total: int, *, enabled: bool) -> None:
        self.total, self.done, self.enabled = total, 0, enabled
        self.start = time.monotonic()
        self.next_line = 0.1
        self.bar = None
        if enabled and sys.stderr.isatty():
            from rich.progress import Progress

            self.bar = Progress(transient=True)
            self.bar.start()
            self.task = self.bar.add_task("rendering views", total=total)

    def advance(self, n: int) -> None:
        self.done += n
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.update(self.task, advance=n)
        elif self.done / self.total >= self.next_line or self.done == self.total:
            rate = self.done / max(time.monotonic() - self.start, 1e-9)
            print(
                f"rendered {self.done}/{self.total} views ({rate:.1f}/s)",
                file=sys.stderr,
                flush=True,
            )
            self.next_line = math.floor(self.done / self.total * 10 + 1) / 10

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
