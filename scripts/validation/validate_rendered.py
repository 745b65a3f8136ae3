"""Validate the estimate on rendered surveys with the real detectors (issue 19, build item 4).

A fixed set of simulated surveys (``SURVEYS``: both bundled areas, 1-10 cameras per km, systematic
spacings 10, 20 and 40 m and random designs, both sides and one side per point, seeds never used
in training) is rendered once and cached under ``--root`` (default runs/validate-rendered in the repository, never in
git), each with two detectors:

- ``base/``: the survey (sample, simulated fetch with its truth) detected with the shipped model
  (``detector.registry.DEFAULT_MODEL``);
- ``weakdet/``: the same images detected with the weak model (``WEAK_MODEL``).

Systematic surveys of a sub-area keep the streets nearest the area's centre until they hold
``frac`` of its road length (the bundled extracts cannot be cut with ``bbox:``, which needs the
network); the other streets are unsurveyed, as streets without imagery are.

The estimate step is cheap and redone whenever the estimator changes: for each survey three
estimates, each in its own directory ``est-<calibration>/`` that links the cached tables:

- ``card``: the shipped model, its card's calibration (no review);
- ``oracle``: the shipped model after ``camcensus review --oracle truth``;
- ``weak``: the weak model after ``camcensus review --oracle truth``.

    python scripts/validation/validate_rendered.py cache              # render + detect (heavy; resumable)
    python scripts/validation/validate_rendered.py redetect --from OLD --root NEW
                                       # a new shipped model: OLD's images detected again into NEW (resumable)
    python scripts/validation/validate_rendered.py estimate           # the three estimates, the table
    python scripts/validation/validate_rendered.py table              # the tables from the last estimates

``cache`` and ``estimate`` record their CPU time (this process and its children) in
``<root>/cpu.json``; ``estimate`` writes ``<root>/rendered.json`` and the Markdown tables
(``--markdown``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_ROOT = ROOT / "runs" / "validate-rendered"  # ignored by git (runs/)
WEAK_MODEL = "cctv-yolo11n-synth"
# detect keeps detections from this confidence up: the estimate uses the card's threshold, the review's
# audit draws images with low-confidence detections more often (scripts.review.sampling.LOW_CONF)
DETECT_CONF = 0.05
CALIBRATIONS = ("card", "oracle", "weak")
# files of a rendered survey that every estimate directory links (read-only for the estimate)
LINKED = ("network.graphml", "sample.json", "points.parquet", "views.parquet", "images.parquet", "images",
          "look.parquet", "truth.geojson", "truth_boxes.parquet")


@dataclass(frozen=True)
class RenderedSurvey:
    """One survey of the validation set. ``sides``: both, or random (one side per point);
    ``frac``: share of the area's road length surveyed (systematic designs; 1 = all)."""

    name: str
    area: str  # demo or test_pbf
    density: float  # simulated cameras per road km
    method: str  # systematic or random
    sides: str  # both or random
    seed: int
    spacing: float | None = None  # metres (systematic)
    n: int | None = None  # points (random)
    frac: float = 1.0
    note: str = ""
    style: str = "default"  # the renderer's look: default (training) or alt (held out, never trained on)
    corruption: str = ""  # corrupted surveys: KIND:SEV[+KIND:SEV...] (geo.sim.corruptions) applied to ...
    source: str = ""  # ... the images of this training-look survey (its tables and truth are shared)

    @property
    def group(self) -> str:
        """training look, held-out look or corrupted."""
        return "corrupted" if self.corruption else ("held-out look" if self.style == "alt" else "training look")

    @property
    def design(self) -> str:
        return f"systematic {self.spacing:g} m" if self.method == "systematic" else f"random n={self.n}"

    @property
    def sides_label(self) -> str:
        return "both" if self.sides == "both" else "one"


def _s(name, area, density, design, sides, seed, frac=1.0, note="", style="default"):
    if design.startswith("sys"):
        return RenderedSurvey(name, area, density, "systematic", sides, seed, spacing=float(design[3:]), frac=frac,
                              note=note, style=style)
    return RenderedSurvey(name, area, density, "random", sides, seed, n=int(design[1:]), frac=frac, note=note,
                          style=style)


def _corrupted(name: str, source: RenderedSurvey, corruption: str) -> RenderedSurvey:
    """A survey whose images are ``source``'s with ``corruption`` applied (same scene and truth)."""
    from dataclasses import replace

    return replace(source, name=name, corruption=corruption, source=source.name,
                   note=f"{source.name}'s images with {corruption}")


# Seeds from 2001: training used seeds 0-12 (demo scenes) and 777/778 (held-out layouts).
SURVEYS: tuple[RenderedSurvey, ...] = (
    _s("t01", "test_pbf", 10, "sys10", "both", 2001, frac=0.07),
    _s("t02", "test_pbf", 5, "sys10", "random", 2002, frac=0.10),
    _s("t03", "test_pbf", 3, "sys20", "both", 2003, frac=0.15),
    _s("t04", "test_pbf", 8, "sys20", "random", 2004, frac=0.15),
    _s("t05", "test_pbf", 2, "sys40", "both", 2005, frac=0.30),
    _s("t06", "test_pbf", 1, "sys40", "random", 2006, frac=0.60),
    _s("t07", "test_pbf", 4, "n150", "both", 2007),
    _s("t08", "test_pbf", 1.5, "n300", "random", 2008),
    _s("t09", "test_pbf", 10, "n200", "both", 2009),
    _s("t10", "test_pbf", 6, "sys20", "both", 2010, frac=0.10),
    _s("t11", "test_pbf", 5, "sys40", "both", 2011, frac=0.20),
    _s("t12", "test_pbf", 2, "n250", "both", 2012),
    _s("d01", "demo", 8, "sys10", "both", 2101, frac=0.15),
    _s("d02", "demo", 3, "sys10", "random", 2102, frac=0.20),
    _s("d03", "demo", 5, "sys20", "both", 2103, frac=0.30),
    _s("d04", "demo", 2, "sys20", "random", 2104, frac=0.50),
    _s("d05", "demo", 1, "sys40", "both", 2105, frac=0.60),
    _s("d06", "demo", 6, "sys40", "random", 2106, frac=0.50),
    _s("d07", "demo", 3, "n150", "both", 2107),
    _s("d08", "demo", 10, "n200", "random", 2108),
    _s("d09", "demo", 6, "n100", "both", 2109),
    _s("d10", "demo", 10, "sys10", "both", 2110, frac=0.10),
    _s("d11", "demo", 4, "sys20", "random", 2111, frac=0.40),
    _s("d12", "demo", 5, "n200", "both", 2112),
    # the three surveys of issue 19's table
    _s("i1", "test_pbf", 1.5, "sys20", "both", 3,
       note="issue 19 row 1 (the card's hidden-style survey: random:1.5, --spacing 20 --seed 3)"),
    _s("i2", "demo", 3, "sys15", "both", 2000,
       note="issue 19 row 2 (its seed is not recorded; seed 2000 here)"),
    _s("i3", "test_pbf", 8, "n200", "both", 1,
       note="issue 19 row 3 (README's rendered table, test_pbf seed 1)"),
)
TRAINING = {s.name: s for s in SURVEYS}
# The held-out look (issue 26): the renderer's alt style, never used in training; seeds from 4101.
HELD_OUT: tuple[RenderedSurvey, ...] = (
    _s("h01", "test_pbf", 5, "sys10", "both", 4101, frac=0.10, style="alt"),
    _s("h02", "demo", 5, "sys10", "both", 4102, frac=0.15, style="alt"),
    _s("h03", "test_pbf", 8, "sys10", "random", 4103, frac=0.08, style="alt"),
    _s("h04", "demo", 3, "sys20", "both", 4104, frac=0.35, style="alt"),
    _s("h05", "test_pbf", 5, "n200", "both", 4105, style="alt"),
    _s("h06", "test_pbf", 5, "sys20", "both", 4106, style="alt",
       note="the whole test extract at 20 m (about 4,150 views), as issue 26's table"),
)
# Corrupted training-look surveys (geo.sim.corruptions; evaluation only): the same scenes re-detected.
CORRUPTED: tuple[RenderedSurvey, ...] = (
    _corrupted("c01", TRAINING["t10"], "haze:3"),
    _corrupted("c02", TRAINING["d03"], "lowres:3"),
    _corrupted("c03", TRAINING["t03"], "jpeg:4"),
    _corrupted("c04", TRAINING["d01"], "blur:3+noise:2"),
)
ALL_SURVEYS: tuple[RenderedSurvey, ...] = SURVEYS + HELD_OUT + CORRUPTED


# --- running commands, CPU time ----------------------------------------------------------------

def cpu_seconds() -> float:
    """User + system CPU seconds of this process and its finished children."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def camcensus(*args: str, log=None, inprocess: bool = False) -> str:
    """Run one ``camcensus`` command; its output, or RuntimeError with the tail of it.
    ``inprocess``: in this process (``scripts.cli.main``; no start-up cost: the estimate step),
    else as a subprocess (rendering and detection)."""
    if inprocess:
        import contextlib
        import io
        import traceback

        from scripts.cli import main as cli_main

        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
            try:
                code = cli_main([str(a) for a in args])
            except Exception:  # noqa: BLE001 - reported as the command's failure
                traceback.print_exc(file=buffer)
                code = 1
        out = buffer.getvalue()
        if log is not None:
            log(f"$ {' '.join(map(str, args))}\n" + "\n".join(out.strip().splitlines()[-3:]))
        if code != 0:
            raise RuntimeError(f"{' '.join(map(str, args))} failed ({code}): {out.strip()[-800:]}")
        return out
    exe = Path(sys.executable).with_name("camcensus")
    cmd = [str(exe) if exe.exists() else "camcensus", *map(str, args)]
    env = {**os.environ, "YOLO_OFFLINE": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    out = proc.stdout + proc.stderr
    if log is not None:
        log(f"$ {' '.join(cmd[1:])}\n" + "\n".join(out.strip().splitlines()[-3:]))
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[1:])} failed ({proc.returncode}): {out.strip()[-800:]}")
    return out


def shipped_model() -> str:
    """The shipped model's name (``detector.registry.DEFAULT_MODEL``)."""
    from detector.registry import DEFAULT_MODEL

    return DEFAULT_MODEL


def area_spec(area: str) -> str:
    if area == "test_pbf":
        from pyrosm import get_data

        return get_data("test_pbf")
    return area


# --- sub-areas ------------------------------------------------------------------------------

def streets_near_centre(points: pd.DataFrame, *, frac: float, spacing: float) -> set:
    """The street ids nearest the points' centre (by each street's mean point) that together hold
    at least ``frac`` of the points' road length (points x ``spacing`` metres)."""
    if frac >= 1.0:
        return set(points["street_id"].unique().tolist())
    lat0 = float(points["lat"].mean())
    x = points["lon"].to_numpy(float) * np.cos(np.radians(lat0))
    y = points["lat"].to_numpy(float)
    frame = pd.DataFrame({"street_id": points["street_id"].to_numpy(), "x": x, "y": y})
    streets = frame.groupby("street_id").agg(x=("x", "mean"), y=("y", "mean"), n=("x", "size"))
    streets["d"] = np.hypot(streets["x"] - x.mean(), streets["y"] - y.mean())
    streets = streets.sort_values("d")
    length = streets["n"].to_numpy(float) * spacing
    keep = np.searchsorted(np.cumsum(length), frac * length.sum()) + 1
    return set(streets.index[:keep].tolist())


def cut_to_subarea(survey_dir: Path, *, frac: float, spacing: float) -> dict:
    """Keep only the points and views of the streets nearest the centre (``streets_near_centre``);
    sample.json records it under ``subarea``."""
    import geopandas as gpd

    points = gpd.read_parquet(survey_dir / "points.parquet")
    views = gpd.read_parquet(survey_dir / "views.parquet")
    keep = streets_near_centre(points, frac=frac, spacing=spacing)
    points = points[points["street_id"].isin(keep)]
    views = views[views["point_id"].isin(set(points["point_id"]))]
    points.to_parquet(survey_dir / "points.parquet")
    views.to_parquet(survey_dir / "views.parquet")
    info = json.loads((survey_dir / "sample.json").read_text())
    info["subarea"] = {"rule": "streets nearest the centre", "frac": frac, "n_streets": len(keep),
                       "n_points": int(len(points)), "n_views": int(len(views)),
                       "surveyed_km": round(len(points) * spacing / 1000, 2)}
    (survey_dir / "sample.json").write_text(json.dumps(info, indent=2))
    return info["subarea"]


# --- the cache: render, detect ------------------------------------------------------------------

def render_survey(s: RenderedSurvey, base: Path, *, log) -> None:
    """Sample (and cut), render with the simulator's truth, into ``base`` (skips what exists)."""
    if not (base / "views.parquet").exists():
        args = ["sample", "--area", area_spec(s.area), "--out", base, "--method", s.method, "--seed", s.seed,
                "--sides", s.sides]
        args += ["--spacing", s.spacing] if s.method == "systematic" else ["--n", s.n]
        camcensus(*args, log=log)
        if s.frac < 1.0:
            log(f"sub-area: {cut_to_subarea(base, frac=s.frac, spacing=float(s.spacing))}")
    if not (base / "truth_boxes.parquet").exists() or not (base / "images.parquet").exists():
        camcensus("fetch", base, "--provider", "simulated", "--sim-cameras", f"random:{s.density:g}:{s.seed}",
                  "--seed", s.seed, "--workers", 2, "--style", s.style, log=log)
        shutil.rmtree(base / "cache", ignore_errors=True)


SHARED = ("network.graphml", "sample.json", "points.parquet", "views.parquet", "images.parquet", "truth.geojson",
          "truth_boxes.parquet")


def corruptions_from_spec(spec: str) -> list[tuple[str, int]]:
    """``"blur:3+noise:2"`` -> [("blur", 3), ("noise", 2)] (``geo.sim.corruptions.corruption_from_spec``)."""
    from geo.sim.corruptions import corruption_from_spec

    return [corruption_from_spec(part) for part in spec.split("+") if part]


def corrupt_survey(source: Path, base: Path, spec: str, *, seed: int, log) -> int:
    """``base``: the tables of the rendered survey ``source`` (linked) and its images corrupted by
    ``spec`` (written; images already written are kept, so it resumes). Returns images written."""
    import cv2
    import zlib

    from geo.sim.corruptions import corrupt

    steps = corruptions_from_spec(spec)
    (base / "images").mkdir(parents=True, exist_ok=True)
    for name in SHARED:
        if (source / name).exists() and not (base / name).exists():
            (base / name).symlink_to((source / name).resolve())
    images = pd.read_parquet(source / "images.parquet", columns=["image_id", "path"]).dropna()
    written = 0
    for image_id, rel in zip(images["image_id"].astype(str), images["path"].astype(str)):
        out = base / rel
        if out.exists():
            continue
        image = cv2.imread(str(source / rel), cv2.IMREAD_COLOR)
        if image is None:
            continue
        rng = np.random.default_rng([seed, zlib.crc32(image_id.encode())])
        for kind, severity in steps:
            image = corrupt(image, kind, severity=severity, rng=rng)
        tmp = out.with_suffix(".tmp.jpg")
        cv2.imwrite(str(tmp), image, [cv2.IMWRITE_JPEG_QUALITY, 95])
        tmp.rename(out)
        written += 1
    log(f"corrupted {written} images of {source.parent.name} with {spec} into {base}")
    return written


def detected(out: Path) -> bool:
    return (out / "detect_summary.json").exists() and any((out / "detections").glob("part-*.parquet"))


class heavy_lock:
    """The shared heavy-job lock (``flock`` on ``path``) held for one survey-phase at a time, so
    that other heavy jobs can run between them; no lock when ``path`` is None."""

    def __init__(self, path: Path | None):
        self.path, self.file = path, None

    def __enter__(self):
        if self.path is not None:
            import fcntl

            self.file = open(self.path, "a")
            fcntl.flock(self.file, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        if self.file is not None:
            import fcntl

            fcntl.flock(self.file, fcntl.LOCK_UN)
            self.file.close()
            time.sleep(3.0)  # let a waiting job take the lock first
        return False


def cache_order(surveys) -> list[RenderedSurvey]:
    """The order of the cache: the held-out look's surveys (the largest last), each corrupted
    survey right after its training-look source, then the other training-look surveys, issue 19's
    (large) surveys last."""
    surveys = list(surveys)
    by_name = {s.name: s for s in surveys}
    held = [s for s in surveys if s.group == "held-out look"]
    whole = [s for s in held if s.method == "systematic" and s.frac >= 1.0]  # whole-area surveys: large
    order = [s for s in held if s not in whole]
    for c in (s for s in surveys if s.group == "corrupted"):
        order += [x for x in (by_name.get(c.source) or TRAINING.get(c.source), c) if x is not None and x not in order]
    order += whole
    rest = [s for s in surveys if s not in order]
    return order + [s for s in rest if not s.note.startswith("issue")] + [s for s in rest if s.note.startswith("issue")]


def cache_all(root: Path, surveys, *, cpu_budget_s: float, log, lock: Path | None = None,
              phases: tuple[str, ...] = ("shipped", "weak"), wall_budget_s: float | None = None) -> dict:
    """Render (or corrupt) + detect with the shipped model every survey (``cache_order``), then
    (phase ``weak``) detect with the weak model. Stops starting new surveys once ``cpu_budget_s``
    CPU seconds are spent; holds ``lock`` (the shared heavy-job lock) one survey-phase at a time.
    Resumable: what is cached is skipped. Returns CPU seconds by survey and phase."""
    started, wall_started = cpu_seconds(), time.time()
    cpu_path = root / "cpu.json"
    record = json.loads(cpu_path.read_text()) if cpu_path.exists() else {}
    order = cache_order(surveys)
    tasks = [(s, p) for p in phases for s in order]
    for s, phase in tasks:
        key = f"{s.name}:{phase}"
        base = root / s.name / "base"
        if phase == "shipped" and detected(base) or phase == "weak" and detected(root / s.name / "weakdet"):
            continue
        if phase == "weak" and not detected(base):
            log(f"{key}: not rendered, no weak detection")
            continue
        if cpu_seconds() - started > cpu_budget_s:
            log(f"CPU budget {cpu_budget_s:.0f} s spent: {key} not cached")
            continue
        if wall_budget_s is not None and time.time() - wall_started > wall_budget_s:
            log(f"wall budget {wall_budget_s:.0f} s spent: {key} not cached")
            continue
        (root / s.name).mkdir(parents=True, exist_ok=True)
        (root / s.name / "survey.json").write_text(json.dumps(asdict(s), indent=2))
        with heavy_lock(lock):
            clock, wall = cpu_seconds(), time.time()
            try:
                if phase == "shipped" and s.corruption:
                    source = root / s.source / "base"
                    if not (source / "images.parquet").exists():
                        render_survey(TRAINING[s.source], source, log=log)
                    corrupt_survey(source, base, s.corruption, seed=s.seed, log=log)
                    camcensus("detect", base, "--model", shipped_model(), "--device", "cpu", "--conf", DETECT_CONF,
                              log=log)
                elif phase == "shipped":
                    render_survey(s, base, log=log)
                    camcensus("detect", base, "--model", shipped_model(), "--device", "cpu", "--conf", DETECT_CONF,
                              log=log)
                else:
                    camcensus("detect", base, "--model", WEAK_MODEL, "--device", "cpu", "--out",
                              root / s.name / "weakdet", log=log)
            except RuntimeError as exc:
                log(f"{key}: {exc}")
                continue
        record[key] = {"cpu_s": round(cpu_seconds() - clock, 1), "wall_s": round(time.time() - wall, 1)}
        cpu_path.write_text(json.dumps(record, indent=2))
        log(f"{key}: {record[key]} (total CPU this run {cpu_seconds() - started:.0f} s)")
    return record


def link_cached_survey(source_root: Path, root: Path, name: str) -> Path | None:
    """``root/name/base`` linking the tables and images of ``source_root/name/base`` (never written),
    without its detections; None when the source survey is not cached."""
    source = source_root / name / "base"
    if not (source / "images.parquet").exists():
        return None
    base = root / name / "base"
    base.mkdir(parents=True, exist_ok=True)
    for entry in (source_root / name / "survey.json", *(source / n for n in LINKED)):
        link = base.parent / entry.name if entry.name == "survey.json" else base / entry.name
        if entry.exists() and not link.exists():
            link.symlink_to(entry.resolve())
    return base


def redetect_all(source_root: Path, root: Path, surveys, *, log) -> list[str]:
    """Detect the cached images of ``source_root`` again with the shipped model into ``root`` (a
    new model's rendered validation without rendering again); resumable. Returns the names detected."""
    done = []
    for s in cache_order(surveys):
        base = link_cached_survey(source_root, root, s.name)
        if base is None:
            log(f"{s.name}: not cached in {source_root}, skipped")
            continue
        if not detected(base):
            camcensus("detect", base, "--model", shipped_model(), "--device", "cpu", "--conf", DETECT_CONF, log=log)
            done.append(s.name)
    return done


# --- do the views of a camera detect it independently? ----------------------------------------------

HIT_SIZE_EDGES_PX = (0.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 12.0, 14.0, 16.0, 20.0, 24.0, 32.0, 1e5)


def hits_from_survey(survey_dir: Path, *, detections_dir: Path | None = None, min_conf: float | None = None
                     ) -> pd.DataFrame:
    """Every truth box of a rendered survey with ``hit``: whether a detection matches it (the
    review oracle's rule, ``scripts.review.oracle.match_scores``: IoU >= 0.3 or the centre within
    max(3 px, half the box side)); ``min_conf``: only detections at or above it (the estimate's
    threshold; detect may keep lower ones). Columns: camera_id, image_id, class_name, size_px, hit."""
    from scripts.review.oracle import match_scores

    truth = pd.read_parquet(survey_dir / "truth_boxes.parquet")
    parts = sorted(((detections_dir or survey_dir) / "detections").glob("part-*.parquet"))
    det = pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True) if parts else pd.DataFrame(
        columns=["image_id", "x1", "y1", "x2", "y2"])
    if min_conf is not None and "conf" in det.columns:  # detections below the estimate's threshold do not count
        det = det[det["conf"].fillna(1.0) >= min_conf - 1e-9]
    det_by_image = {k: g for k, g in det.groupby(det["image_id"].astype(str))}
    hit = np.zeros(len(truth), bool)
    for image_id, idx in truth.groupby(truth["image_id"].astype(str)).indices.items():
        d = det_by_image.get(image_id)
        if d is not None and len(d):
            hit[idx] = match_scores(d, truth.iloc[idx])[1].any(axis=0)
    size = np.sqrt((truth["x2"] - truth["x1"]).clip(lower=0) * (truth["y2"] - truth["y1"]).clip(lower=0))
    return pd.DataFrame({"camera_id": truth["camera_id"].astype(str).to_numpy(),
                         "image_id": truth["image_id"].astype(str).to_numpy(),
                         "class_name": truth["class_name"].astype(str).to_numpy(),
                         "size_px": size.to_numpy(float), "hit": hit})


def hit_rate_by_size(hits: pd.DataFrame, *, edges=HIT_SIZE_EDGES_PX) -> np.ndarray:
    """Each box's hit probability given its size alone: the size bins' pooled hit rates
    ((hits + 1/2) / (n + 1)), interpolated in log size between bin centres
    (``geo.counting.calibration.recall_at``, as the estimator reads recall)."""
    from geo.counting.calibration import recall_at

    size = hits["size_px"].to_numpy(float)
    b = np.clip(np.searchsorted(edges, size, side="right") - 1, 0, len(edges) - 2)
    y = hits["hit"].to_numpy(float)
    rates = (np.bincount(b, y, minlength=len(edges) - 1) + 0.5) / (np.bincount(b, minlength=len(edges) - 1) + 1.0)
    return recall_at(size, np.asarray(edges, float), rates)


def pairwise_residual_correlation(hits: pd.DataFrame, *, edges=HIT_SIZE_EDGES_PX) -> float:
    """The intra-camera correlation of hits given box size: the mean product of the Pearson
    residuals (y - p) / sqrt(p (1 - p)) over all pairs of views of one camera, p the hit rate at
    the box's size (``hit_rate_by_size``, pooled over all cameras). About 0 when views detect a
    camera independently."""
    y = hits["hit"].to_numpy(float)
    p = np.clip(hit_rate_by_size(hits, edges=edges), 1e-6, 1 - 1e-6)
    ok = np.ones(len(y), bool)
    r = (y - p) / np.sqrt(p * (1 - p))
    cam = pd.factorize(hits["camera_id"])[0]
    s1 = np.bincount(cam, r)
    s2 = np.bincount(cam, r * r)
    m = np.bincount(cam, ok.astype(float))
    pairs = (m * (m - 1)).sum()
    return float(((s1 ** 2 - s2).sum()) / pairs) if pairs > 0 else float("nan")


def random_effect_sd(hits: pd.DataFrame, *, edges=HIT_SIZE_EDGES_PX, nodes: int = 20) -> float:
    """ML estimate of the SD of a per-camera random intercept on the logit of the hit probability
    (logit p = a[size bin] + u, u ~ N(0, sd^2); Gauss-Hermite marginal likelihood)."""
    from scipy.optimize import minimize
    from scipy.special import logsumexp

    b = np.clip(np.searchsorted(edges, hits["size_px"].to_numpy(float), side="right") - 1, 0, len(edges) - 2)
    used, b = np.unique(b, return_inverse=True)
    y = hits["hit"].to_numpy(float)
    cam = pd.factorize(hits["camera_id"])[0]
    n_cam = cam.max() + 1 if len(cam) else 0
    x, w = np.polynomial.hermite.hermgauss(nodes)
    logw = np.log(w / np.sqrt(np.pi))
    rate = (np.bincount(b, y) + 0.5) / (np.bincount(b) + 1.0)

    def nll(theta):
        a, sd = theta[:-1], np.exp(theta[-1])
        eta = a[b][:, None] + np.sqrt(2.0) * sd * x[None, :]
        lp = np.where(y[:, None] > 0, -np.logaddexp(0, -eta), -np.logaddexp(0, eta))
        per_cam = np.zeros((n_cam, nodes))
        np.add.at(per_cam, cam, lp)
        return -float(logsumexp(per_cam + logw, axis=1).sum())

    theta0 = np.append(np.log(rate / (1 - rate)), np.log(0.5))
    res = minimize(nll, theta0, method="L-BFGS-B",
                   bounds=[(-15, 15)] * len(used) + [(np.log(1e-3), np.log(10.0))])
    return float(np.exp(res.x[-1]))


def simulated_hits(hits: pd.DataFrame, sd: float, *, seed: int = 0, edges=HIT_SIZE_EDGES_PX) -> pd.DataFrame:
    """``hits`` with ``hit`` redrawn by the truth-only error model: each box's hit rate at its size
    (``hit_rate_by_size``) as the marginal, a per-camera logit effect of SD ``sd``
    (``geo.counting.heterogeneity.logit_shift``)."""
    from geo.counting.heterogeneity import expit as _expit, logit_shift

    rng = np.random.default_rng(seed)
    rate = hit_rate_by_size(hits, edges=edges)
    cam = pd.factorize(hits["camera_id"])[0]
    u = rng.normal(0, sd, cam.max() + 1 if len(cam) else 0)[cam] if sd > 0 else 0.0
    p = _expit(logit_shift(rate, sd) + u) if sd > 0 else rate
    return hits.assign(hit=rng.random(len(hits)) < p)


def camera_correlation(hits: pd.DataFrame, *, n_boot: int = 200, seed: int = 0) -> dict:
    """The intra-camera correlation of hits (``pairwise_residual_correlation``) and the per-camera
    random-effect SD (``random_effect_sd``; latent-scale ICC sd^2 / (sd^2 + pi^2 / 3)) on the
    cameras shown by at least two views, with 95% percentile intervals from a bootstrap over
    cameras; and the correlation the truth-only error model gives at that SD (its check)."""
    counts = hits.groupby("camera_id")["image_id"].transform("size")
    multi = hits[counts >= 2].reset_index(drop=True)
    cams = multi["camera_id"].unique()
    rho = pairwise_residual_correlation(multi)
    sd = random_effect_sd(multi)
    rng = np.random.default_rng(seed)
    by_cam = multi.groupby("camera_id").indices
    boot_rho, boot_sd = [], []
    for i in range(n_boot):
        pick = rng.choice(cams, len(cams), replace=True)
        frame = pd.concat([multi.iloc[by_cam[c]].assign(camera_id=f"{c}#{k}") for k, c in enumerate(pick)],
                          ignore_index=True)
        boot_rho.append(pairwise_residual_correlation(frame))
        if i < max(n_boot // 4, 20):  # the ML fit is slower: a quarter of the replicates
            boot_sd.append(random_effect_sd(frame))
    sim = [pairwise_residual_correlation(simulated_hits(multi, sd, seed=k)) for k in range(20)]
    icc = sd ** 2 / (sd ** 2 + np.pi ** 2 / 3)
    sd_lo, sd_hi = np.nanquantile(boot_sd, [0.025, 0.975])
    return {"n_cameras": int(len(cams)), "n_views": int(len(multi)), "n_hits": int(multi["hit"].sum()),
            "n_boot": n_boot, "rho": rho, "rho_lo": float(np.nanquantile(boot_rho, 0.025)),
            "rho_hi": float(np.nanquantile(boot_rho, 0.975)), "sd_logit": sd, "sd_lo": float(sd_lo),
            "sd_hi": float(sd_hi), "n_boot_sd": len(boot_sd), "icc_latent": float(icc),
            "icc_latent_lo": float(sd_lo ** 2 / (sd_lo ** 2 + np.pi ** 2 / 3)),
            "icc_latent_hi": float(sd_hi ** 2 / (sd_hi ** 2 + np.pi ** 2 / 3)),
            "rho_model_at_sd": float(np.mean(sim)), "rho_model_independent": float(np.mean(
                [pairwise_residual_correlation(simulated_hits(multi, 0.0, seed=k)) for k in range(20)]))}


def correlation_of_cache(root: Path, surveys, *, n_boot: int, log) -> dict:
    """``camera_correlation`` of the shipped model's hits over every cached survey (camera ids
    prefixed by the survey) and, separately, of the weak model's."""
    out = {}
    for model, sub in (("shipped", None), ("weak", "weakdet")):
        frames = []
        for s in surveys:
            base = root / s.name / "base"
            src = root / s.name / sub if sub else base
            if not detected(src) or not (base / "truth_boxes.parquet").exists():
                continue
            h = hits_from_survey(base, detections_dir=src)
            frames.append(h.assign(camera_id=s.name + ":" + h["camera_id"]))
        if not frames:
            continue
        hits = pd.concat(frames, ignore_index=True)
        out[model] = camera_correlation(hits, n_boot=n_boot) | {"surveys": len(frames)}
        log(f"{model}: {out[model]}")
    return out


def correlation_text(result: dict) -> str:
    lines = []
    for model, r in result.items():
        lines.append(f"{model}: {r['n_cameras']} cameras shown by >= 2 views ({r['n_views']} views, {r['n_hits']} hits, "
                     f"{r['surveys']} surveys); intra-camera correlation of hits given box size "
                     f"{r['rho']:.3f} (95% {r['rho_lo']:.3f}-{r['rho_hi']:.3f}, bootstrap over cameras); random "
                     f"effect SD on the logit {r['sd_logit']:.2f} ({r['sd_lo']:.2f}-{r['sd_hi']:.2f}), latent ICC "
                     f"{r['icc_latent']:.2f}; the error model at that SD gives {r['rho_model_at_sd']:.3f}, "
                     f"independent views {r['rho_model_independent']:.3f}")
    return "\n".join(lines)


# --- the estimate step: three calibrations per survey -----------------------------------------------

def estimate_dir(root: Path, s: RenderedSurvey, calibration: str) -> Path:
    """A fresh ``est-<calibration>`` directory of survey ``s`` linking its cached tables and the
    detections of the calibration's model (the weak model's for ``weak``)."""
    base = root / s.name / "base"
    det = root / s.name / "weakdet" if calibration == "weak" else base
    out = root / s.name / f"est-{calibration}"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    for name in LINKED:
        if (base / name).exists():
            (out / name).symlink_to((base / name).resolve())
    for name in ("detections", "detect_summary.json"):
        (out / name).symlink_to((det / name).resolve())
    return out


def estimate_one(root: Path, s: RenderedSurvey, calibration: str, *, estimate_args: tuple = (), log) -> dict:
    """One estimate of survey ``s`` (``card``, ``oracle`` or ``weak``); its report's figures."""
    out = estimate_dir(root, s, calibration)
    clock = cpu_seconds()
    if calibration != "card":  # as a user would: the survey's estimate (cameras located at the card's
        # threshold; the audit draws their other views more often), then the review, then the estimate again
        located = root / s.name / "est-card" / "cameras.parquet"
        if calibration == "oracle" and located.exists():
            shutil.copy(located, out / "cameras.parquet")
            # and its report: the review's audit updates the survey's own recall fit when that was informative
            if (located.parent / "report.json").exists():
                shutil.copy(located.parent / "report.json", out / "report.json")
        else:
            camcensus("estimate", out, "--by", "area", "--no-osm", *estimate_args, log=log, inprocess=True)
        camcensus("review", out, "--oracle", "truth", log=log, inprocess=True)
    camcensus("estimate", out, "--by", "area", "--no-osm", *estimate_args, log=log, inprocess=True)
    report = json.loads((out / "report.json").read_text())
    return row_from_report(report) | {"estimate_cpu_s": round(cpu_seconds() - clock, 1)}


def row_from_report(report: dict) -> dict:
    """The figures of one estimate: total, interval, truth in its strip, strip, counts, the
    calibration's source and figures, images audited, and the card check and the survey's own fit
    when the estimate wrote them (``card_check``, ``self_calibration``; read with .get)."""
    t = report.get("total") or {}
    cal = report.get("calibration") or {}
    strip = t.get("strip_m", (report.get("parameters") or {}).get("strip_m"))
    check = report.get("card_check") or {}
    fit = report.get("self_calibration") or {}
    return {"est": _num(t.get("est_cameras")), "lo": _num(t.get("est_lo")), "hi": _num(t.get("est_hi")),
            "truth": _num(t.get("truth_cameras")), "strip_m": _num(strip),
            "strip_by_class": {k: round(float(v), 1) for k, v in (t.get("strip_m_by_class") or {}).items()},
            "n_images": t.get("n_images"), "n_detections": t.get("n_detections"), "n_cameras": t.get("n_cameras"),
            "source": cal.get("source"), "precision": _num(cal.get("precision")), "recall": _num(cal.get("recall")),
            "n_verified": cal.get("n_verified"), "n_audited": cal.get("n_audited"),
            "fits": check.get("fits"), "recall_ratio": _num(check.get("recall_ratio")),
            "self_ratio": _num(fit.get("recall_ratio")), "self_ratio_lo": _num(fit.get("recall_ratio_lo")),
            "self_ratio_hi": _num(fit.get("recall_ratio_hi")), "self_used": fit.get("used"),
            "self_informative": fit.get("informative"), "provisional": report.get("provisional"),
            "count_factor": _num(check.get("count_factor_if_not_carried"))}


def _num(value) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if np.isfinite(value) else None


def estimate_all(root: Path, surveys, *, estimate_args: tuple = (), log, max_minutes: float | None = None,
                 calibrations: tuple[str, ...] = CALIBRATIONS) -> list[dict]:
    """The estimates of every cached survey: ``card``, ``oracle`` (an oracle review at the default
    sample sizes, an update of the card) and ``weak`` where the weak model's detections are cached.
    A survey whose cache is not finished (no detections yet) is skipped with a line, and so is
    everything after ``max_minutes`` of wall time; one row per survey."""
    rows, started = [], time.time()
    for s in cache_order(surveys):  # held-out look and corrupted first, as cached: they matter most
        if not detected(root / s.name / "base"):
            log(f"{s.name}: cache not finished (no detections): skipped")
            continue
        if max_minutes is not None and time.time() - started > 60 * max_minutes:
            log(f"{s.name}: skipped, the estimate step's {max_minutes:g} min are spent")
            continue
        row = {"name": s.name, "area": s.area, "density": s.density, "design": s.design, "sides": s.sides_label,
               "seed": s.seed, "note": s.note, "group": s.group, "style": s.style, "corruption": s.corruption}
        base = root / s.name / "base"
        info = json.loads((base / "sample.json").read_text()) if (base / "sample.json").exists() else {}
        row["surveyed_km"] = (info.get("subarea") or {}).get("surveyed_km")
        for cal in calibrations:
            if cal == "weak" and not detected(root / s.name / "weakdet"):
                continue
            try:
                row[cal] = estimate_one(root, s, cal, estimate_args=estimate_args, log=log)
            except RuntimeError as exc:
                log(f"{s.name}:{cal}: {exc}")
                row[cal] = {"error": str(exc)[-300:]}
        rows.append(row)
        log(f"{s.name}: " + ", ".join(f"{c} {_fmt_est(row.get(c))} truth {(row.get(c) or {}).get('truth')}"
                                      for c in calibrations if c in row))
    return merged_rows([], rows)  # in the set's order


def merged_rows(old: list[dict], new: list[dict]) -> list[dict]:
    """``old`` rows with those of ``new`` (by survey name) replaced or added, in the order of
    ``ALL_SURVEYS`` (unknown names last)."""
    by_name = {r["name"]: r for r in old} | {r["name"]: r for r in new}
    order = {s.name: k for k, s in enumerate(ALL_SURVEYS)}
    return sorted(by_name.values(), key=lambda r: order.get(r["name"], len(order)))


# --- scores and tables ----------------------------------------------------------------------------

TARGETS = {"card": "median error within ±10%, coverage >= 90%",
           "oracle": "median error within ±10%, coverage 90-98%",
           "weak": "coverage >= 85%, no interval wider than 4x its estimate where the estimate >= 20"}
LABELS = {"card": "shipped model, card", "oracle": "shipped model, oracle review (default sizes)",
          "weak": f"weak model ({WEAK_MODEL}), oracle review"}


def scored(cell: dict | None) -> dict | None:
    """``cell`` with error ((est - truth) / truth), covered (lo <= truth <= hi) and the width
    ratio ((hi - lo) / est); None without an estimate or with no truth in the strip."""
    if not cell or cell.get("est") is None or cell.get("truth") is None or cell.get("lo") is None:
        return None
    truth = cell["truth"]
    out = dict(cell)
    out["error"] = (cell["est"] - truth) / truth if truth > 0 else None
    out["covered"] = bool(cell["lo"] - 1e-9 <= truth <= cell["hi"] + 1e-9)
    out["width_ratio"] = (cell["hi"] - cell["lo"]) / cell["est"] if cell["est"] > 0 else None
    return out


def summary_of(rows: list[dict], calibration: str) -> dict:
    """Median error, coverage with its Monte Carlo SE (binomial, sqrt(c (1 - c) / n)), the widest
    interval where the estimate is >= 20, and whether the issue's target is met."""
    cells = [c for c in (scored(r.get(calibration)) for r in rows) if c is not None]
    errors = np.array([c["error"] for c in cells if c["error"] is not None], float)
    covered = np.array([c["covered"] for c in cells], bool)
    n = len(cells)
    cov = float(covered.mean()) if n else float("nan")
    big = [c["width_ratio"] for c in cells if c["est"] >= 20 and c["width_ratio"] is not None]
    out = {"calibration": calibration, "n": n, "n_with_truth": int(len(errors)),
           "median_error": float(np.median(errors)) if len(errors) else None,
           "median_abs_error": float(np.median(np.abs(errors))) if len(errors) else None,
           "coverage": cov if n else None, "coverage_mcse": float(np.sqrt(cov * (1 - cov) / n)) if n else None,
           "max_width_ratio_est20": float(max(big)) if big else None, "n_est20": len(big),
           "median_width_truth": float(np.median([(c["hi"] - c["lo"]) / c["truth"] for c in cells if c["truth"] > 0]))
           if any(c["truth"] > 0 for c in cells) else None}
    med, ok_med = out["median_error"], False
    if med is not None:
        ok_med = abs(med) <= 0.10
    if not n:
        out["met"] = None
    elif calibration == "card":
        out["met"] = bool(ok_med and cov >= 0.90)
    elif calibration == "oracle":
        out["met"] = bool(ok_med and 0.90 <= cov <= 0.98)
    else:
        out["met"] = bool(cov >= 0.85 and (out["max_width_ratio_est20"] or 0.0) <= 4.0)
    return out


def _fmt_est(cell: dict | None) -> str:
    if not cell or cell.get("est") is None:
        return "-" if not cell or "error" not in cell else "failed"
    return f"{cell['est']:.1f} ({cell['lo']:.1f}-{cell['hi']:.1f})"


def _pct(x: float | None, signed: bool = True) -> str:
    return "-" if x is None else (f"{x:+.0%}" if signed else f"{x:.0%}")


GROUPS = ("training look", "held-out look", "corrupted")


def _group(row: dict) -> str:
    return row.get("group") or "training look"


def group_summary(rows: list[dict]) -> dict:
    """Per group (training look, held-out look, corrupted): the card's and the review's median
    error and coverage, how often the card's estimate is covered or flagged (card_check.fits
    false), false alarms (fits false where the card's interval covers), the survey's own fit, and
    the images audited."""
    out = {}
    for g in GROUPS:
        part = [r for r in rows if _group(r) == g]
        card = [(r, scored(r.get("card"))) for r in part]
        card = [(r, c) for r, c in card if c is not None]
        review = [c for c in (scored(r.get("oracle")) for r in part) if c is not None]
        flagged = [c.get("fits") is False for _, c in card]
        audited = [float(c["n_audited"]) for c in review if c.get("n_audited") is not None]
        ratios = [c["self_ratio"] for _, c in card if c.get("self_ratio") is not None]
        out[g] = {"n": len(part), "card": summary_of(part, "card"), "review": summary_of(part, "oracle"),
                  "card_covered_or_flagged": int(sum(c["covered"] or f for (_, c), f in zip(card, flagged))),
                  "card_covered_flagged_or_bounded": int(sum(c["covered"] or f or within_unverified_bound(c)
                                                             for (_, c), f in zip(card, flagged))),
                  "n_card": len(card), "fits_false": int(sum(flagged)),
                  "fits_none": int(sum(c.get("fits") is None for _, c in card)),
                  "false_alarms": int(sum(f and c["covered"] for (_, c), f in zip(card, flagged))),
                  "self_informative": int(sum(bool(c.get("self_informative")) for _, c in card)),
                  "self_ratio_median": float(np.median(ratios)) if ratios else None,
                  "review_within_20": int(sum(c["error"] is not None and abs(c["error"]) <= 0.20 and c["covered"]
                                              for c in review)),
                  "n_review": len(review),
                  "audited_median": float(np.median(audited)) if audited else None,
                  "audited_max": float(max(audited)) if audited else None}
    return out


def within_unverified_bound(cell: dict) -> bool:
    """Whether an unverified card estimate (card_check.fits null) has the truth below its upper
    bound times the count factor its note gives (``count_factor_if_not_carried``)."""
    factor, hi, truth = cell.get("count_factor"), cell.get("hi"), cell.get("truth")
    return (cell.get("fits") is None and factor is not None and hi is not None and truth is not None
            and truth <= hi * factor)


def group_table(rows: list[dict]) -> list[str]:
    """The issue-26 summary by group, Markdown lines."""
    lines = ["| surveys | n | card: median error, coverage | card covered or flagged | card covered, flagged or "
             "within its unverified bound | card_check.fits false "
             "(false alarms) / unknown | own fit: informative, median recall ratio | review: median error, coverage "
             "| review within ±20% and covered | images audited: median (max) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for g, sm in group_summary(rows).items():
        if not sm["n"]:
            continue
        c, r = sm["card"], sm["review"]
        card = "-" if not c["n"] else f"{_pct(c['median_error'])}, {c['coverage']:.0%}"
        rev = "-" if not r["n"] else f"{_pct(r['median_error'])}, {r['coverage']:.0%}"
        ratio = "-" if sm["self_ratio_median"] is None else f"{sm['self_ratio_median']:.2f}"
        aud = "-" if sm["audited_median"] is None else f"{sm['audited_median']:.0f} ({sm['audited_max']:.0f})"
        lines.append(f"| {g} | {sm['n']} | {card} | {sm['card_covered_or_flagged']} of {sm['n_card']} | "
                     f"{sm['card_covered_flagged_or_bounded']} of {sm['n_card']} | "
                     f"{sm['fits_false']} ({sm['false_alarms']}) / {sm['fits_none']} | {sm['self_informative']}, {ratio} "
                     f"| {rev} | {sm['review_within_20']} of {sm['n_review']} | {aud} |")
    return lines


def survey_table(rows: list[dict]) -> list[str]:
    """One line per survey: the card's estimate, card_check.fits, the survey's own fit, the
    review's estimate and the images audited, Markdown lines."""
    lines = ["| survey | group | design | card: truth | card: estimate (95%) | error | covered | card_check.fits "
             "(recall ratio) | own fit: recall ratio (95%), used | review: truth | review: estimate (95%) | error | "
             "covered | images audited | detections verified |", "|" + "---|" * 15]
    for r in rows:
        c, v = scored(r.get("card")), scored(r.get("oracle"))
        look = r.get("corruption") or ("alt look" if r.get("style") == "alt" else "")
        cells = [r["name"], _group(r) + (f" ({look})" if look else ""), r["design"]]
        if c is None:
            cells += ["-", _fmt_est(r.get("card")), "-", "-", "-", "-"]
        else:
            fits = {True: "yes", False: "**no**", None: "-"}[c.get("fits")]
            if c.get("fits") is None and c.get("count_factor") is not None:
                fits = f"- (up to x{c['count_factor']:.1f})"
            ratio = "" if c.get("recall_ratio") is None else f" ({c['recall_ratio']:.2f})"
            own = "-" if c.get("self_ratio") is None else (
                f"{c['self_ratio']:.2f} ({c['self_ratio_lo']:.2f}-{c['self_ratio_hi']:.2f})"
                + (", used" if c.get("self_used") else ""))
            cells += [f"{c['truth']:.0f}", _fmt_est(c), _pct(c["error"]), "yes" if c["covered"] else "**no**",
                      fits + ratio, own]
        if v is None:
            cells += ["-", _fmt_est(r.get("oracle")), "-", "-", "-", "-"]
        else:
            cells += [f"{v['truth']:.0f}", _fmt_est(v), _pct(v["error"]), "yes" if v["covered"] else "**no**",
                      "-" if v.get("n_audited") is None else f"{v['n_audited']}",
                      "-" if v.get("n_verified") is None else f"{v['n_verified']}"]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def markdown_tables(rows: list[dict], *, cpu: dict | None = None) -> str:
    """The issue-26 tables (by group: training look, held-out look, corrupted; and per survey),
    then the training look's summary (per calibration: median error, coverage with MC SE,
    target), its breakdown and per-survey table, as Markdown."""
    head = group_table(rows) + [""] + survey_table(rows) + ["", "Training look:", ""]
    rows = [r for r in rows if _group(r) == "training look"]
    lines = ["| calibration | surveys | median error | median abs. error | 95% coverage (MC SE) | "
             "median width / truth | widest interval / estimate (est >= 20) | target | met |",
             "|---|---|---|---|---|---|---|---|---|"]
    for cal in CALIBRATIONS:
        sm = summary_of(rows, cal)
        cov = "-" if sm["coverage"] is None else f"{sm['coverage']:.0%} ({sm['coverage_mcse']:.0%})"
        wide = "-" if sm["max_width_ratio_est20"] is None else f"{sm['max_width_ratio_est20']:.2f} (of {sm['n_est20']})"
        met = {True: "yes", False: "**no**", None: "-"}[sm["met"]]
        lines.append(f"| {LABELS[cal]} | {sm['n']} | {_pct(sm['median_error'])} | "
                     f"{_pct(sm['median_abs_error'], False)} | {cov} | "
                     f"{'-' if sm['median_width_truth'] is None else format(sm['median_width_truth'], '.2f')} | "
                     f"{wide} | {TARGETS[cal]} | {met} |")
    groups = {"the set of 24": lambda r: not str(r.get("note", "")).startswith("issue"),
              "the issue's three": lambda r: str(r.get("note", "")).startswith("issue"),
              "systematic": lambda r: r["design"].startswith("systematic"),
              "random": lambda r: r["design"].startswith("random"),
              "demo": lambda r: r["area"] == "demo", "test extract": lambda r: r["area"] == "test_pbf",
              "both sides": lambda r: r["sides"] == "both", "one side": lambda r: r["sides"] == "one"}
    lines += ["", "| surveys | " + " | ".join(f"{c}: median error, coverage" for c in CALIBRATIONS) + " |",
              "|---|" + "---|" * len(CALIBRATIONS)]
    for label, test in groups.items():
        part = [r for r in rows if test(r)]
        cells = []
        for cal in CALIBRATIONS:
            sm = summary_of(part, cal)
            cells.append("-" if not sm["n"] else f"{_pct(sm['median_error'])}, {sm['coverage']:.0%} of {sm['n']}")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += ["", "| survey | area | cameras/km | design | sides | "
              + " | ".join(f"{c}: truth in strip (directed/dome m) | {c}: estimate (95%) | {c}: error | {c}: covered" for c in CALIBRATIONS)
              + " |", "|" + "---|" * (5 + 4 * len(CALIBRATIONS))]
    for r in rows:
        cells = []
        for cal in CALIBRATIONS:
            c = scored(r.get(cal))
            if c is None:
                cells += ["-", _fmt_est(r.get(cal)), "-", "-"]
            else:
                strip = strip_text(c)
                cells += [f"{c['truth']:.0f}{strip}", _fmt_est(c), _pct(c["error"]), "yes" if c["covered"] else "**no**"]
        area = "test extract" if r["area"] == "test_pbf" else r["area"]
        lines.append(f"| {r['name']} | {area} | {r['density']:g} | {r['design']} | {r['sides']} | " + " | ".join(cells) + " |")
    notes = [r for r in rows if r.get("note")]
    if notes:
        lines += [""] + [f"- {r['name']}: {r['note']}" for r in notes]
    if cpu:
        lines += ["", cpu_line(cpu)]
    return "\n".join(head + lines) + "\n"


def strip_text(cell: dict) -> str:
    """' (strip 12/9 m)': the strip half-width per class (directed/dome), else the one strip."""
    by = cell.get("strip_by_class") or {}
    if "directed" in by and "dome" in by:
        return f" ({by['directed']:g}/{by['dome']:g} m)"
    return f" ({cell['strip_m']:g} m)" if cell.get("strip_m") is not None else ""


def cpu_line(cpu: dict) -> str:
    """One line: the CPU time of the cache (render + detect, by phase) and of the last estimate step."""
    cache = {k: v for k, v in cpu.items() if ":" in k}
    shipped = sum(v["cpu_s"] for k, v in cache.items() if k.endswith(":shipped"))
    weak = sum(v["cpu_s"] for k, v in cache.items() if k.endswith(":weak"))
    est = cpu.get("estimate", {})
    text = (f"CPU time: render + detect with the shipped model {shipped / 60:.1f} min, detect with the weak model "
            f"{weak / 60:.1f} min ({len(cache)} survey-phases)")
    if est:
        text += f"; the estimate step (three estimates each, two oracle reviews) {est.get('cpu_s', 0) / 60:.1f} min"
    return text + "."


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("step", choices=("run", "cache", "redetect", "estimate", "table", "correlation"),
                        help="run: cache then estimate; cache: render + detect (heavy, resumable); redetect: the "
                             "images cached under --from detected with the shipped model into --root (heavy, "
                             "resumable); estimate: the "
                             "three estimates of every cached survey and the tables; table: the tables of the "
                             "last estimates; correlation: the intra-camera correlation of hits")
    parser.add_argument("--lock", type=Path, default=None,
                        help="cache: hold this flock file (the shared heavy-job lock) one survey-phase at a time")
    parser.add_argument("--markdown", type=Path, default=None, help="also write the tables to this Markdown file")
    parser.add_argument("--estimate-arg", action="append", default=None,
                        help="extra option passed to every `camcensus estimate` (repeat; e.g. --estimate-arg=--strip "
                             "--estimate-arg=20)")
    parser.add_argument("--calibrations", default=",".join(CALIBRATIONS),
                        help="estimate: which estimates, comma list of card, oracle, weak (default: all three; weak only "
                             "where its detections are cached)")
    parser.add_argument("--fresh", action="store_true",
                        help="estimate: drop the rows of surveys not estimated this time (default: keep them)")
    parser.add_argument("--max-minutes", type=float, default=None,
                        help="estimate: skip the surveys left after this many minutes of wall time (default: none)")
    parser.add_argument("--group", default=None,
                        help="only the surveys of these groups, comma list of training, held-out, corrupted "
                             "(default: all)")
    parser.add_argument("--wall-budget-s", type=float, default=None,
                        help="cache: stop starting surveys after this many seconds of wall time (default: none; the "
                             "CPU budget counts this process and its finished children only)")
    parser.add_argument("--no-weak", action="store_true", help="cache: skip the weak model's detection phase")
    parser.add_argument("--n-boot", type=int, default=200, help="correlation: bootstrap replicates (default 200)")
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="cache of the rendered surveys")
    parser.add_argument("--from", dest="source_root", type=Path, default=None,
                        help="redetect: the cache whose images are detected again (never written)")
    parser.add_argument("--only", default=None, help="comma list of survey names (default: all)")
    parser.add_argument("--cpu-budget-s", type=float, default=3300.0,
                        help="cache: stop starting surveys after this many CPU seconds (default 3300)")
    args = parser.parse_args(argv)
    surveys = [s for s in ALL_SURVEYS if (args.only is None or s.name in args.only.split(","))
               and (args.group is None or any(s.group.startswith(g.strip()) for g in args.group.split(",")))]
    if not surveys:
        parser.error(f"no survey matches --only {args.only!r} / --group {args.group!r}")
    args.root.mkdir(parents=True, exist_ok=True)

    def log(text: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)

    cpu_path = args.root / "cpu.json"
    if args.step == "redetect":
        if args.source_root is None or args.source_root.resolve() == args.root.resolve():
            parser.error("redetect needs --from OLD_ROOT, another folder than --root")
        done = redetect_all(args.source_root, args.root, surveys, log=log)
        log(f"redetect done: {len(done)} surveys detected with {shipped_model()}")
        return 0
    if args.step in ("cache", "run"):
        record = cache_all(args.root, surveys, cpu_budget_s=args.cpu_budget_s, log=log, lock=args.lock,
                           phases=("shipped",) if args.no_weak else ("shipped", "weak"),
                           wall_budget_s=args.wall_budget_s)
        total = sum(v["cpu_s"] for v in record.values())
        log(f"cache done: {len(record)} survey-phases, {total:.0f} CPU s recorded")
        if args.step == "cache":
            return 0
    results = args.root / "rendered.json"
    if args.step in ("estimate", "run"):
        clock, wall = cpu_seconds(), time.time()
        rows = estimate_all(args.root, surveys, estimate_args=tuple(args.estimate_arg or ()), log=log,
                            max_minutes=args.max_minutes, calibrations=tuple(args.calibrations.split(",")))
        if results.exists() and not args.fresh:  # keep the rows of surveys not estimated this time
            rows = merged_rows(json.loads(results.read_text()).get("rows", []), rows)
        cpu = json.loads(cpu_path.read_text()) if cpu_path.exists() else {}
        cpu["estimate"] = {"cpu_s": round(cpu_seconds() - clock, 1), "wall_s": round(time.time() - wall, 1),
                           "surveys": len(rows)}
        cpu_path.write_text(json.dumps(cpu, indent=2))
        results.write_text(json.dumps({"rows": rows, "estimate_args": args.estimate_arg or [],
                                       "summary": {c: summary_of([r for r in rows if _group(r) == "training look"], c)
                                                   for c in CALIBRATIONS},
                                       "groups": group_summary(rows)}, indent=2))
    if args.step == "correlation":
        result = correlation_of_cache(args.root, surveys, n_boot=args.n_boot, log=log)
        (args.root / "correlation.json").write_text(json.dumps(result, indent=2))
        print(correlation_text(result))
        return 0
    if not results.exists():
        raise SystemExit(f"no estimates yet: run `{Path(__file__).name} estimate` first ({results} missing)")
    rows = json.loads(results.read_text())["rows"]
    cpu = json.loads(cpu_path.read_text()) if cpu_path.exists() else None
    text = markdown_tables(rows, cpu=cpu)
    print(text)
    if args.markdown is not None:
        args.markdown.write_text(text)
        log(f"wrote {args.markdown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
