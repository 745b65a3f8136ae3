"""Render a street-level view of a :class:`geo.sim.scene.Scene` with exact camera boxes.

A pinhole camera (eye 2.5 m above the road) looks along ``heading`` (degrees clockwise from the
scene's grid north, about true north) with ``pitch`` (degrees, up positive) and a horizontal
field of view ``fov``. The background is ray cast per image column against the facades near the
eye (the three nearest wall hits per column, so taller buildings show above lower ones), then
shaded per pixel with numpy: sky, road and sidewalk with shadows, facades with windows, shop
fronts and colour variety. Cameras, street furniture and camera-like distractors are drawn with
OpenCV at their true distance (so their size in pixels follows from geometry), supersampled and
masked by the walls and objects in front of them. A camera is labelled only if it is in front
of the eye, at least half in frame, at least half visible (not hidden by walls, nearer objects
or, for wall cameras seen within 10-25 degrees of their wall's plane, the facade's relief) and
its box is at least 3 px wide and high.

Non-zero pitch is rendered level and warped by the rotation's homography, which is exact for a
pinhole camera.

``style`` (one of :data:`STYLES`) picks the look. "default" is the look every training set uses;
"alt" is held out from all training to measure robustness (issue 21): mostly overcast or dusk
light with warm-grey skies, other facade palettes (a colour mix per view), stronger colour casts,
more sensor noise and blur, a JPEG round trip at low quality, and camera housings of other shapes
and colours (bullet cameras without a sun shield, turret domes, in black, beige or grey-blue).
"random" is the training look randomized per view (domain randomization, issue 28): every view
draws its light, sky, facade palette and texture, shadows, clutter and camera housings from the
wide ranges in :data:`RANDOM_LOOK` (documented there and in docs/detector.md). It never uses the
"alt" look's code (``_lighting_alt``, ``_camera_sprite_alt``, its JPEG round trip), and it keeps
camera housings near-neutral (white to grey, dark cameras dark) and of the training shapes (a
dome under a ring, a box camera with its sun shield), so "alt"'s beige and grey-blue housings,
turret domes and shield-less bullets stay a look training never saw.
``randomization`` picks the random look's version: 1 (the default) is round 3's look above,
reproducible bit for bit; 2 is the wider look of :mod:`geo.sim.randomize` (``WIDE_LOOK``: any-hue
palettes, facade textures and cast shadows, more skies, clutter and photometry, and housings of
many shapes: domes, mini domes, PTZ heads, bullets with and without a sun shield, box cameras, on
several brackets). Neither version uses the "alt" look's code, palettes or housings.
The scene's geometry is the same in every style; box sizes differ a little because the housings
differ.
"""

from __future__ import annotations

import math
from functools import lru_cache

import cv2
import numpy as np
import pandas as pd

from geo.sim import randomize
from geo.sim.scene import Scene

EYE_HEIGHT_M = 2.5
MAX_RANGE_M = 220.0  # facades farther than this are not drawn (haze)
OBJECT_RANGE_M = 90.0  # objects farther than this are below a pixel
LAYERS = 3
MIN_BOX_PX = 3.0
GRAZING_DEG = (
    15.0  # default relief angle: wall cameras seen closer to their wall's plane are hidden
)
SUPERSAMPLE = 4
BOX_COLUMNS = ["camera_id", "class_name", "x1", "y1", "x2", "y2"]
STYLES = ("default", "alt", "random")
TRAINING_STYLES = ("default", "random")  # "alt" is held out from all training
# The random look's ranges (uniform draws per view unless said otherwise); docs/detector.md copies them.
RANDOM_LOOK = {
    "sunny": 0.5,  # probability of direct sun (shadows, lit facades)
    "sun_elev_deg": (10.0, 65.0),
    "gain": (0.55, 1.4),  # exposure
    "tint": (0.82, 1.18),  # per-channel white balance (blue, red; green 1)
    "sky": ("blue", "grey", "tinted"),  # zenith colour kind, equally likely
    "sky_grey": (120.0, 235.0),
    "sky_low": (140.0, 250.0),  # horizon colour, per channel
    "asphalt": (40.0, 150.0),
    "sidewalk_m": (1.2, 5.5),
    "noise": (0.5, 12.0),  # sensor noise, grey levels
    "blur": (0.0, 1.5),  # lens blur sigma, px (applied above 0.3)
    "clouds": (0.0, 1.0),
    "palette_diag": (0.35, 1.0),  # facade colour mix: diagonal ...
    "palette_off": (0.0, 0.45),  # ... and off-diagonal weights, rows normalized
    "palette_gain": (0.7, 1.25),
    "grime": (0.0, 3.0),  # facade/ground texture strength (1: the default look)
    "shadow": (0.4, 0.85),  # ground shadow darkness (default 0.62)
    "glass": (0.6, 1.4),  # window glass brightness
    "haze_m": (250.0, 900.0),  # distance at which facades fade fully to the horizon colour
    "shell_grey": (150.0, 245.0),  # light housings: grey level ...
    "shell_tint": (0.95, 1.05),  # ... with a near-neutral per-channel tint
    "dark_grey": (20.0, 75.0),  # dark housings
    "dome_aspect": (0.7, 1.1),  # hemisphere height / radius
    "bubble": (10.0, 70.0),  # dome bubble grey
    "bullet_diam": (0.26, 0.46),  # box camera cross-section / size
    "shield": (0.6, 1.5),  # sun shield thickness factor
    "cables": 1.2,  # mean overhead cables per view (Poisson), kept off camera boxes
    "clutter": 3.0,  # mean small dark blobs per view (Poisson: wires' insulators, stains, birds)
}


@lru_cache(maxsize=4)
def _noise_tile(size: int = 1024) -> np.ndarray:
    """Fixed-seed unit Gaussian noise (size, size, 3) float32, shared by all views."""
    return np.random.default_rng(12345).standard_normal((size, size, 3)).astype(np.float32)


@lru_cache(maxsize=4)
def _cloud_tile(size: int = 512) -> np.ndarray:
    """Fixed-seed smooth noise in [0, 1] (size, size) float32 for clouds and stains."""
    rng = np.random.default_rng(54321)
    tile = np.zeros((size, size), np.float32)
    for scale, weight in ((64, 0.5), (16, 0.3), (4, 0.2)):
        small = rng.random((size // scale + 2, size // scale + 2)).astype(np.float32)
        tile += (
            weight
            * cv2.resize(
                small, (size + 2 * scale, size + 2 * scale), interpolation=cv2.INTER_CUBIC
            )[scale : scale + size, scale : scale + size]
        )
    tile -= tile.min()
    return tile / max(float(tile.max()), 1e-6)


@lru_cache(maxsize=2)
def _grime_tile(size: int = 1024) -> np.ndarray:
    """Fixed-seed multiplicative texture around 1 (stains, weathering, asphalt patches)."""
    rng = np.random.default_rng(777)
    tile = np.ones((size, size), np.float32)
    for scale, weight in ((128, 0.035), (32, 0.03), (8, 0.025), (2, 0.02)):
        small = rng.standard_normal((size // scale + 2, size // scale + 2)).astype(np.float32)
        tile += (
            weight
            * cv2.resize(
                small, (size + 2 * scale, size + 2 * scale), interpolation=cv2.INTER_CUBIC
            )[scale : scale + size, scale : scale + size]
        )
    return np.clip(tile, 0.8, 1.2)


class _View:
    """Camera geometry of one level (pitch 0) canvas: focal length, principal point, axes."""

    def __init__(
        self,
        x: float,
        y: float,
        heading: float,
        f: float,
        width: int,
        height: int,
        cx: float,
        cy: float,
    ) -> None:
        self.x, self.y, self.z = x, y, EYE_HEIGHT_M
        self.width, self.height, self.cx, self.cy, self.f = width, height, cx, cy, f
        h = math.radians(heading)
        self.fwd = np.array([math.sin(h), math.cos(h)])
        self.right = np.array([math.cos(h), -math.sin(h)])

    def project(
        self, x: np.ndarray, y: np.ndarray, z: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """World points -> (u, v) px, depth along the axis (m), horizontal distance (m)."""
        dx, dy = x - self.x, y - self.y
        depth = dx * self.fwd[0] + dy * self.fwd[1]
        side = dx * self.right[0] + dy * self.right[1]
        with np.errstate(divide="ignore", invalid="ignore"):
            u = self.cx + self.f * side / depth
            v = self.cy - self.f * (z - self.z) / depth
        return u, v, depth, np.hypot(dx, dy)


def focal_px(fov: float, width: int) -> float:
    """Focal length in px of a ``width``-px image with horizontal field of view ``fov`` deg."""
    return (width / 2.0) / math.tan(math.radians(fov) / 2.0)


def render_view(
    scene: Scene,
    *,
    x: float,
    y: float,
    heading: float,
    pitch: float = 0,
    fov: float = 90,
    width: int = 640,
    height: int = 640,
    seed: int = 0,
    style: str = "default",
    randomization: int = 1,
) -> tuple[np.ndarray, pd.DataFrame]:
    """Render the view from ``(x, y)`` (scene metres), eye 2.5 m above the road, in ``style``
    (``randomization``: the "random" look's version, 1 or 2; only with ``style="random"``).

    Returns the image (height x width x 3, uint8, BGR; noise and blur applied, not yet JPEG
    compressed, except the "alt" style's own JPEG round trip) and its camera boxes (camera_id,
    class_name, x1, y1, x2, y2 in pixels). The same arguments give the same image and boxes.
    """
    return _render(scene, x, y, heading, pitch, fov, width, height, seed, draw=True, style=style,
                   randomization=randomization)


def boxes_for_view(
    scene: Scene,
    *,
    x: float,
    y: float,
    heading: float,
    pitch: float = 0,
    fov: float = 90,
    width: int = 640,
    height: int = 640,
    style: str = "default",
    seed: int = 0,
    randomization: int = 1,
) -> pd.DataFrame:
    """The camera boxes :func:`render_view` would give, without drawing the image (the "random"
    look draws its housings from ``seed``: give the view's seed and ``randomization`` there)."""
    return _render(scene, x, y, heading, pitch, fov, width, height, seed, draw=False, style=style,
                   randomization=randomization)[1]


def _render(
    scene: Scene,
    x: float,
    y: float,
    heading: float,
    pitch: float,
    fov: float,
    width: int,
    height: int,
    seed: int,
    *,
    draw: bool,
    style: str = "default",
    randomization: int = 1,
) -> tuple[np.ndarray | None, pd.DataFrame]:
    if not (0 < fov < 170):
        raise ValueError(f"fov must be in (0, 170) degrees, got {fov}")
    if style not in STYLES:
        raise ValueError(f"style must be one of {', '.join(STYLES)}, got {style!r}")
    if randomization not in randomize.RANDOMIZATIONS:
        raise ValueError(f"randomization must be one of {randomize.RANDOMIZATIONS}, got {randomization!r}")
    if randomization != 1 and style != "random":
        raise ValueError(f"randomization {randomization} applies to the random look only, not style {style!r}")
    f = focal_px(fov, width)
    homography = None
    if abs(pitch) < 1e-9:
        base_w, base_h, cx, cy = width, height, width / 2.0, height / 2.0
    else:
        base_w, base_h, cx, cy, homography = _level_canvas(f, pitch, width, height)
    view = _View(float(x), float(y), float(heading), f, base_w, base_h, cx, cy)
    walls = _cast_walls(scene, view)
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, 99])
    if randomization == 2:
        light = randomize.lighting_wide(rng, sky_blue=_sky_blue)
    else:
        light = {"default": _lighting, "alt": _lighting_alt, "random": _lighting_random}[style](rng)
    image = _background(scene, view, walls, light, rng) if draw else None
    boxes = _draw_objects(scene, view, walls, image, light, draw=draw)
    if draw:
        _birds(image, view, walls, rng)
    if homography is not None:
        if draw:
            image = cv2.warpPerspective(
                image,
                homography,
                (width, height),
                flags=cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_REPLICATE,
            )
        boxes = _warp_boxes(boxes, homography)
    boxes = _finish_boxes(boxes, width, height)
    if draw:
        if light.get("version") == 2:
            randomize.clutter_wide(image, boxes, rng)
            h, w = image.shape[:2]
            image = randomize.post_wide(image, rng, light, noise=_tile_slice(_noise_tile(), h, w, rng))
        else:
            if light.get("style") == "random":
                _clutter(image, boxes, light, rng)
            image = _post(image, rng, light)
    return image, boxes


# --- geometry ---------------------------------------------------------------------------------


def _level_canvas(
    f: float, pitch: float, width: int, height: int
) -> tuple[int, int, float, float, np.ndarray]:
    """Level canvas covering a pitched view, and the homography level px -> pitched px."""
    p = math.radians(pitch)
    # Pitched camera coordinates (x right, y down, z forward) = rot @ level coordinates.
    rot = np.array([[1, 0, 0], [0, math.cos(p), math.sin(p)], [0, -math.sin(p), math.cos(p)]])
    k_out = np.array([[f, 0, width / 2.0], [0, f, height / 2.0], [0, 0, 1]])
    corners = np.array([[0, 0, 1], [width, 0, 1], [0, height, 1], [width, height, 1]], float).T
    rays = rot.T @ np.linalg.inv(k_out) @ corners
    if np.any(rays[2] <= 0.05):
        raise ValueError(f"pitch {pitch} deg is too steep for this field of view")
    px = f * rays[0] / rays[2]
    py = f * rays[1] / rays[2]
    x0, x1 = math.floor(px.min()) - 2, math.ceil(px.max()) + 2
    y0, y1 = math.floor(py.min()) - 2, math.ceil(py.max()) + 2
    base_w, base_h = min(x1 - x0, 4 * width), min(y1 - y0, 4 * height)
    cx, cy = -float(x0), -float(y0)
    k_in = np.array([[f, 0, cx], [0, f, cy], [0, 0, 1]])
    homography = k_out @ rot @ np.linalg.inv(k_in)
    return int(base_w), int(base_h), cx, cy, homography


class _Walls:
    """Per-column wall hits of a level canvas, nearest first: arrays of shape (LAYERS, width)."""

    def __init__(self, dist, seg, along, top, bottom, inc, length_factor):
        self.dist, self.seg, self.along = dist, seg, along
        self.top, self.bottom, self.inc, self.L = top, bottom, inc, length_factor
        # Cumulative top: a farther wall shows only above every nearer wall.
        self.cum_top = np.minimum.accumulate(top, axis=0)

    def occluder_top(self, cols: np.ndarray, dist: float) -> np.ndarray:
        """Image row from which walls nearer than ``dist`` m cover columns ``cols`` (inf: none)."""
        top = np.where(self.dist[:, cols] < dist, self.top[:, cols], np.inf)
        return top.min(axis=0)


def _cast_walls(scene: Scene, view: _View) -> _Walls:
    fac = scene.facades
    n_cols = view.width
    a = (np.arange(n_cols, dtype=np.float64) + 0.5 - view.cx) / view.f
    length_factor = np.sqrt(1.0 + a * a)
    dx = (view.fwd[0] + a * view.right[0]) / length_factor
    dy = (view.fwd[1] + a * view.right[1]) / length_factor
    idx = scene.grid.near(view.x, view.y, MAX_RANGE_M) if len(fac) else np.zeros(0, np.int64)
    if idx.size:
        qx, qy = fac.x0[idx] - view.x, fac.y0[idx] - view.y
        front = (-qx * fac.nx[idx] - qy * fac.ny[idx]) > 0  # the eye is on the outward side
        # Keep segments not entirely behind the eye.
        ex, ey = fac.x1[idx] - view.x, fac.y1[idx] - view.y
        ahead = ((qx * view.fwd[0] + qy * view.fwd[1]) > -1) | (
            (ex * view.fwd[0] + ey * view.fwd[1]) > -1
        )
        idx = idx[front & ahead]
    dist = np.full((LAYERS, n_cols), np.inf)
    seg = np.zeros((LAYERS, n_cols), np.int64)
    along = np.zeros((LAYERS, n_cols))
    if idx.size:
        qx = (fac.x0[idx] - view.x)[None, :]
        qy = (fac.y0[idx] - view.y)[None, :]
        sx = (fac.x1[idx] - fac.x0[idx])[None, :]
        sy = (fac.y1[idx] - fac.y0[idx])[None, :]
        cdx, cdy = dx[:, None], dy[:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            inv = 1.0 / (cdx * sy - cdy * sx)
            t = (qx * sy - qy * sx) * inv
            s = (qx * cdy - qy * cdx) * inv
        t = np.where((t > 0.2) & (s >= 0) & (s <= 1), t, np.inf)
        k = min(LAYERS, t.shape[1])
        if t.shape[1] > k:
            part = np.argpartition(t, k - 1, axis=1)[:, :k]
        else:
            part = np.broadcast_to(np.arange(k), (n_cols, k))
        tk = np.take_along_axis(t, part, axis=1)
        order = np.argsort(tk, axis=1)
        part = np.take_along_axis(part, order, axis=1)
        tk = np.take_along_axis(tk, order, axis=1)
        sk = np.take_along_axis(s, part, axis=1)
        dist[:k] = tk.T
        seg[:k] = idx[part].T
        along[:k] = (sk * fac.length[idx][part]).T
    hit = np.isfinite(dist)
    safe = np.where(hit, dist, 1.0)
    height = np.where(hit, fac.height[seg], 0.0) if len(fac) else np.zeros_like(dist)
    top = np.where(hit, view.cy - view.f * (height - view.z) * length_factor / safe, np.inf)
    bottom = np.where(hit, view.cy + view.f * view.z * length_factor / safe, view.cy)
    inc = (
        np.abs(dx[None, :] * fac.nx[seg] + dy[None, :] * fac.ny[seg])
        if len(fac)
        else np.ones_like(dist)
    )
    return _Walls(dist, seg, along, top, bottom, inc, length_factor)


# --- lighting and background --------------------------------------------------------------------


def _lighting(rng: np.random.Generator) -> dict:
    sunny = rng.random() < 0.6
    azimuth = rng.uniform(0, 360)
    return {
        "sunny": sunny,
        "sun": np.array([math.sin(math.radians(azimuth)), math.cos(math.radians(azimuth))]),
        "sun_elev": rng.uniform(20, 55),
        "gain": rng.uniform(0.8, 1.12),
        "tint": np.array([rng.uniform(0.93, 1.07), 1.0, rng.uniform(0.93, 1.07)]),
        "sky_top": _sky_blue(rng) if sunny else np.full(3, rng.uniform(170, 215)),
        "sky_low": np.array([rng.uniform(215, 240), rng.uniform(205, 225), rng.uniform(190, 215)]),
        "asphalt": rng.uniform(75, 115),
        "sidewalk_m": rng.uniform(2.0, 4.0),
        "noise": rng.uniform(2.0, 6.0),
        "blur": rng.uniform(0.0, 1.0),
        "clouds": rng.uniform(0.0, 0.7),
    }


def _lighting_alt(rng: np.random.Generator) -> dict:
    """The held-out "alt" style: mostly overcast or dusk, warm-grey skies, other facade palettes,
    strong colour casts, more noise and blur, low JPEG quality, other camera housings."""
    sunny = rng.random() < 0.3
    azimuth = rng.uniform(0, 360)
    warm = rng.uniform(0.0, 1.0)  # 0: cold grey overcast, 1: warm dusk haze
    grey = rng.uniform(140, 200)
    mix = np.eye(3) * rng.uniform(0.5, 0.8) + rng.uniform(0.05, 0.3, size=(3, 3))  # facade palette mix
    mix = mix[rng.permutation(3)]  # and a hue swap (brick may turn blue-grey, green may turn ochre)
    return {
        "style": "alt",
        "sunny": sunny,
        "sun": np.array([math.sin(math.radians(azimuth)), math.cos(math.radians(azimuth))]),
        "sun_elev": rng.uniform(8, 30),
        "gain": rng.uniform(0.6, 1.3),
        "tint": np.array([rng.uniform(0.8, 1.05), 1.0, rng.uniform(0.95, 1.25)]),
        "sky_top": np.array([grey * (1 - 0.25 * warm), grey * (1 - 0.1 * warm), grey * (1 + 0.12 * warm)]),
        "sky_low": np.array([rng.uniform(150, 200), rng.uniform(180, 215), rng.uniform(200, 240)]),
        "asphalt": rng.uniform(50, 140),
        "sidewalk_m": rng.uniform(1.5, 5.0),
        "noise": rng.uniform(6.0, 14.0),
        "blur": rng.uniform(0.7, 1.6),
        "clouds": rng.uniform(0.3, 1.0),
        "palette": mix / mix.sum(axis=1, keepdims=True) * rng.uniform(0.8, 1.15),
        "jpeg": int(rng.integers(35, 66)),
        "housing": int(rng.integers(0, 3)),  # 0 black, 1 beige, 2 grey-blue
    }


def _lighting_random(rng: np.random.Generator) -> dict:
    """The "random" training look: every parameter drawn per view from :data:`RANDOM_LOOK`."""
    R = RANDOM_LOOK
    u = lambda key: float(rng.uniform(*R[key]))  # noqa: E731
    sunny = bool(rng.random() < R["sunny"])
    azimuth = rng.uniform(0, 360)
    kind = R["sky"][int(rng.integers(0, len(R["sky"])))]
    if kind == "blue":
        top = _sky_blue(rng)
    elif kind == "grey":
        top = np.full(3, u("sky_grey"))
    else:
        top = u("sky_grey") * rng.uniform(0.8, 1.2, size=3)
    mix = np.eye(3) * rng.uniform(*R["palette_diag"], size=3)[:, None] + rng.uniform(*R["palette_off"], size=(3, 3))
    dark = u("dark_grey")
    return {
        "style": "random",
        "sunny": sunny,
        "sun": np.array([math.sin(math.radians(azimuth)), math.cos(math.radians(azimuth))]),
        "sun_elev": u("sun_elev_deg"),
        "gain": u("gain"),
        "tint": np.array([u("tint"), 1.0, u("tint")]),
        "sky_top": np.clip(top, 0, 255),
        "sky_low": rng.uniform(*R["sky_low"], size=3),
        "asphalt": u("asphalt"),
        "sidewalk_m": u("sidewalk_m"),
        "noise": u("noise"),
        "blur": u("blur"),
        "clouds": u("clouds"),
        "palette": mix / mix.sum(axis=1, keepdims=True) * u("palette_gain"),
        "grime": u("grime"),
        "shadow": u("shadow"),
        "glass": u("glass"),
        "haze_m": u("haze_m"),
        "shell": u("shell_grey") * rng.uniform(*R["shell_tint"], size=3),
        "dark": dark * rng.uniform(*R["shell_tint"], size=3),
        "dome_aspect": u("dome_aspect"),
        "bubble": u("bubble"),
        "bullet_diam": u("bullet_diam"),
        "shield": u("shield"),
    }


def _sky_blue(rng: np.random.Generator) -> np.ndarray:
    """A clear sky's zenith colour (BGR): blue, with some spread in saturation."""
    blue = rng.uniform(185, 235)
    return np.array([blue, blue * rng.uniform(0.72, 0.85), blue * rng.uniform(0.42, 0.6)])


def _background(
    scene: Scene, view: _View, walls: _Walls, light: dict, rng: np.random.Generator
) -> np.ndarray:
    h, w = view.height, view.width
    rows = (np.arange(h, dtype=np.float32) + 0.5)[:, None]
    image = np.empty((h, w, 3), np.float32)
    grime = _tile_slice(_grime_tile(), h, w, rng)
    if "grime" in light:  # the random look's texture strength
        grime = 1 + (grime - 1) * np.float32(light["grime"])
    # Sky down to the lowest visible roof line (or the horizon), ground up to the highest foot of
    # a wall (or the horizon): walls cover the rest.
    sky_rows = int(np.clip(math.ceil(np.max(np.minimum(walls.cum_top[-1], view.cy))), 0, h))
    ground_from = float(np.min(np.where(np.isfinite(walls.dist[0]), walls.bottom[0], view.cy)))
    _sky(image, view, light, rng, sky_rows)
    dapple = None
    if light.get("dapple"):  # the wider random look's tree shadows
        dapple = randomize.dapple_factor(_tile_slice(_cloud_tile(), h, w, rng), light["dapple"])
    _ground(image, scene, view, walls, light, rows, grime, ground_from, dapple=dapple)
    for k in range(LAYERS - 1, -1, -1):
        _facade_layer(image, scene, view, walls, light, k, rows, grime)
    return image


def _tile_slice(tile: np.ndarray, h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """A random (h, w) window of a texture tile (resized when the tile is too small)."""
    if tile.shape[0] < h or tile.shape[1] < w:
        tile = cv2.resize(tile, (max(w, tile.shape[1]), max(h, tile.shape[0])))
    oy = int(rng.integers(0, tile.shape[0] - h + 1))
    ox = int(rng.integers(0, tile.shape[1] - w + 1))
    return tile[oy : oy + h, ox : ox + w]


def _sky(image: np.ndarray, view: _View, light: dict, rng: np.random.Generator, rows: int) -> None:
    """Sky in the first ``rows`` rows above the horizon: a vertical gradient with seeded clouds."""
    h, w = view.height, view.width
    horizon = min(int(np.clip(math.ceil(view.cy), 0, h)), rows)
    cloud = _tile_slice(_cloud_tile(), max(horizon, 1), w, rng)
    if horizon <= 0:
        return
    r = np.arange(horizon, dtype=np.float32)[:, None, None]
    frac = np.clip((np.float32(view.cy) - r) / np.float32(max(view.f, 1.0)), 0, 1) ** np.float32(
        0.6
    )
    low, top = light["sky_low"].astype(np.float32), light["sky_top"].astype(np.float32)
    sky = low + (top - low) * frac  # (horizon, 1, 3)
    cover = np.clip((cloud - np.float32(1 - light["clouds"])) * np.float32(3), 0, 1)[:, :, None]
    image[:horizon] = sky + (np.float32(light.get("cloud_grey", 235)) - sky) * cover


def _ground(
    image: np.ndarray,
    scene: Scene,
    view: _View,
    walls: _Walls,
    light: dict,
    rows: np.ndarray,
    grime: np.ndarray,
    first_row: float,
    *,
    dapple: np.ndarray | None = None,
) -> None:
    """Road and sidewalk below each column's nearest wall (from ``first_row`` down): asphalt, a
    kerb and paving in front of the facade, cast shadows of sunlit facades, haze with distance."""
    h = view.height
    start = int(np.clip(math.floor(max(view.cy, first_row)), 0, h))
    if start >= h:
        return
    f32 = np.float32
    r = rows[start:]
    below = np.maximum(r - f32(view.cy), f32(0.5))
    t = (view.f * view.z * walls.L).astype(f32)[None, :] / below  # horizontal distance, m
    d0 = walls.dist[0]
    hit = np.isfinite(d0)
    perp = (np.where(hit, d0, 1e6).astype(f32)[None, :] - t) * walls.inc[0].astype(f32)[None, :]
    walk = f32(light["sidewalk_m"])
    sidewalk = perp < walk
    kerb = (perp >= walk) & (perp < walk + f32(0.18))
    base = f32(light["asphalt"])
    value = np.where(sidewalk, base + f32(45), np.where(kerb, base + f32(70), base))
    joints = perp * f32(1 / 1.2)  # paving joints run along the facade
    joints -= np.floor(joints)
    value = np.where(sidewalk & (joints < f32(0.05)), value - f32(25), value)
    lane = (perp >= walk + f32(2.1)) & (perp < walk + f32(2.22))  # parking lane line
    value = np.where(lane, value + f32(90), value)
    if light["sunny"] and len(scene.facades):
        fac = scene.facades
        seg = walls.seg[0]
        away = (fac.nx[seg] * light["sun"][0] + fac.ny[seg] * light["sun"][1]) < 0.1
        shadow = np.where(
            hit & away, fac.height[seg] / math.tan(math.radians(light["sun_elev"])) * 0.5, -1
        )
        value *= np.where(perp < shadow.astype(f32)[None, :], f32(light.get("shadow", 0.62)), f32(1.08))
    value *= grime[start:]
    if dapple is not None:
        value *= dapple[start:]
    haze = np.minimum(t * f32(1 / 400.0), f32(1))
    value += (f32(200) - value) * haze
    visible = r >= np.where(hit, walls.bottom[0], view.cy).astype(f32)[None, :]
    ground = value[:, :, None] * np.asarray(light.get("ground_rgb", (1.02, 1.0, 0.99)), f32)
    np.copyto(image[start:], ground, where=visible[:, :, None])


def _facade_layer(
    image: np.ndarray,
    scene: Scene,
    view: _View,
    walls: _Walls,
    light: dict,
    k: int,
    rows: np.ndarray,
    grime: np.ndarray,
) -> None:
    """Shade the pixels where wall layer ``k`` is visible: plaster, windows, shop fronts, cornices
    and floor lines, lit by the sun by the facade's orientation, hazed with distance."""
    dist = walls.dist[k]
    hit = np.isfinite(dist)
    if not hit.any():
        return
    low = np.where(hit, walls.cum_top[k], np.inf)
    high = walls.bottom[0] if k == 0 else walls.cum_top[k - 1]  # rows [low, high) are this wall
    high = np.where(hit, high, -np.inf)
    r0 = int(np.clip(math.floor(np.min(low)), 0, view.height))
    r1 = int(np.clip(math.ceil(np.max(high)), 0, view.height))
    if r1 <= r0:
        return
    r = rows[r0:r1]
    mask = (r >= low[None, :]) & (r < high[None, :])
    fac, st = scene.facades, scene.styles
    seg = walls.seg[k]
    b = fac.building[seg]
    f32 = np.float32
    slope = (np.where(hit, dist, 1.0) / walls.L / view.f).astype(f32)  # metres per pixel row
    z = (f32(view.cy) - r) * slope[None, :] + f32(view.z)
    floor = st["floor_m"][b].astype(f32)
    ground_floor = st["ground_floor_m"][b].astype(f32)
    top = fac.height[seg].astype(f32)
    spacing = st["window_spacing_m"][b]
    s = walls.along[k]
    col_window = np.abs((s % spacing) / spacing - 0.5) < st["window_width"][b] / 2
    col_hash = ((s // spacing) * 0.618034 + b * 0.414214).astype(f32)
    has_shops = (b % 3) != 0
    col_shop = has_shops & (((s % 6.0) / 6.0) > 0.12)
    fz = (z - ground_floor[None, :]) / floor[None, :]
    level = np.floor(fz)
    fz -= level
    above_ground_floor = z > ground_floor[None, :]
    win = (
        col_window[None, :]
        & (fz > 0.22)
        & (fz < (0.22 + st["window_height"][b]).astype(f32)[None, :])
        & above_ground_floor
        & (z < (top - 0.7)[None, :])
    )
    sill = (
        col_window[None, :]
        & (fz > 0.17)
        & (fz <= 0.22)
        & above_ground_floor
        & (z < (top - 0.7)[None, :])
    )
    shop = col_shop[None, :] & (z > 0.4) & (z < (ground_floor - 0.9)[None, :])
    band = (
        has_shops[None, :]
        & (z > (ground_floor - 0.75)[None, :])
        & (z < (ground_floor - 0.2)[None, :])
    )
    cornice = (z > (top - 0.35)[None, :]) | ((fz < 0.04) & above_ground_floor) | sill
    # Materials: 0 wall, 1 cornice/sill, 2 shop glass, 3 shop sign band, 4-7 window variants
    # (dark, darker, reflecting the sky, curtains), seeded per window by its column and floor.
    hashed = col_hash[None, :] + level * f32(0.372)
    variant = ((hashed - np.floor(hashed)) * f32(4)).astype(np.uint8)
    u8 = np.uint8
    material = (
        cornice.view(u8)
        + u8(2) * shop.view(u8)
        + u8(3) * band.view(u8)
        + win.view(u8) * (u8(4) + variant)
    )
    np.minimum(material, u8(7), out=material)
    lit = fac.nx[seg] * light["sun"][0] + fac.ny[seg] * light["sun"][1]
    shade = (0.75 + 0.35 * np.clip(lit, -1, 1)) if light["sunny"] else (0.85 + 0.08 * lit)
    shade = shade * (0.92 + 0.08 * walls.inc[k])
    wall_rgb = st["color"][b] * shade[:, None]
    if "palette" in light:  # the "alt" and "random" looks' facade colours
        wall_rgb = wall_rgb @ light["palette"].T
    glass = st["window"][b] * (0.8 + 0.4 * (1 - walls.inc[k]))[:, None] * light.get("glass", 1.0)
    sky_glass = (
        0.5 * glass + 0.5 * light["sky_low"][None, :] * (0.6 + 0.3 * (1 - walls.inc[k]))[:, None]
    )
    curtain = np.array([175.0, 190.0, 200.0])[None, :] * shade[:, None]
    sign = _SIGN_COLORS_ARRAY[(b * 5) % len(_SIGN_COLORS_ARRAY)] * shade[:, None]
    palette = np.stack(
        [wall_rgb, wall_rgb * 1.12, glass * 0.6, sign, glass, glass * 0.7, sky_glass, curtain]
    )  # (8, w, 3)
    haze = np.clip(np.where(hit, dist, 0) / light.get("haze_m", 600.0), 0, 0.6)[None, :, None]
    palette = (palette * (1 - haze) + light["sky_low"][None, None, :] * haze).astype(f32)
    w = view.width
    index = material.astype(np.int32) * w + np.arange(w, dtype=np.int32)[None, :]
    pixel = palette.reshape(-1, 3).take(index, axis=0)
    pixel *= (grime[r0:r1] if light.get("version") != 2  # the wider look: facade textures and cast shadows
              else grime[r0:r1] * randomize.facade_multiplier(material, z, s, slope, b, top, lit, light))[:, :, None]
    np.copyto(image[r0:r1], pixel, where=mask[:, :, None])


# --- objects ------------------------------------------------------------------------------------

_SMALL_KINDS = {"alarm", "unit", "wall_light", "blade"}  # on facades: only near ones matter


def _draw_objects(
    scene: Scene, view: _View, walls: _Walls, image: np.ndarray | None, light: dict, *, draw: bool
) -> list[dict]:
    """Draw furniture, distractors and cameras far to near, each masked by the walls in front of
    it; return the camera boxes (level canvas px, unclipped) with their visible fraction.

    An owner buffer records which item is on top at each pixel, so a camera hidden by a nearer
    tree, sign or car loses the pixels it covers. Without ``draw`` only the items that can hide
    a camera are rasterised (for the boxes alone)."""
    cams, objs = _columns(scene.cameras), _columns(scene.objects)
    parts = []
    for code, table in ((0, objs), (1, cams)):
        if table:
            near = np.flatnonzero(
                (np.abs(table["x"] - view.x) < OBJECT_RANGE_M)
                & (np.abs(table["y"] - view.y) < OBJECT_RANGE_M)
            )
            parts.append(np.stack([np.full(len(near), code), near], axis=1))
    if not parts:
        return []
    items = np.concatenate(parts)
    if len(items) == 0:
        return []
    tables = (objs, cams)
    xs = np.array([tables[t]["x"][i] for t, i in items])
    ys = np.array([tables[t]["y"][i] for t, i in items])
    zs = np.array([tables[t]["z"][i] for t, i in items])
    u, v, depth, hdist = view.project(xs, ys, zs)
    keep = (depth > 0.5) & (hdist < OBJECT_RANGE_M)
    is_cam = items[:, 0] == 1
    if not draw:  # boxes only: cameras, and the objects nearer than the farthest camera
        if not (keep & is_cam).any():
            return []
        keep &= is_cam | (hdist < hdist[keep & is_cam].max())
    owner = np.full((view.height, view.width), -1, np.int32) if (keep & is_cam).any() else None
    order = [j for j in np.argsort(-hdist, kind="stable") if keep[j]]
    sprites: dict[int, tuple] = {}
    for j in order:
        scale = view.f / depth[j]  # px per metre
        if u[j] < -40 - 12 * scale or u[j] > view.width + 40 + 12 * scale:
            continue
        table = tables[items[j, 0]]
        if not is_cam[j]:
            size = float(table["size_m"][items[j, 1]])
            half = 2.6 if table["kind"][items[j, 1]] == "car" else max(1.3 * size, 0.4)
            if _hidden(
                walls, view, u[j], v[j] - (1.3 * size + 0.3) * scale, half * scale, hdist[j]
            ):
                continue
        row = {name: column[items[j, 1]] for name, column in table.items()}
        if is_cam[j]:
            if _behind_relief(row, view):
                continue
            sprite = _camera_sprite_for(row, view, u[j], v[j], scale, light)
        else:
            if row["kind"] in _SMALL_KINDS and hdist[j] > 45:
                continue
            sprite = _object_sprite(row, view, u[j], v[j], scale, seed=int(items[j, 1]))
        if sprite is None:
            continue
        x0, y0, rgb, alpha, body = sprite
        visible = _visibility(walls, view, x0, y0, alpha.shape, hdist[j])
        if draw:
            _composite(image, x0, y0, rgb, alpha, visible)
        alpha = alpha * visible
        if owner is not None:
            _own(owner, x0, y0, alpha, j)
        if is_cam[j]:
            sprites[j] = (x0, y0, body * visible, row)
    boxes = []
    for j, (x0, y0, seen, row) in sprites.items():
        total = float((seen > 0.3).sum())
        if total <= 0:
            continue
        h, w = seen.shape
        mine = np.zeros_like(seen, dtype=bool)
        ox0, oy0 = max(x0, 0), max(y0, 0)
        ox1, oy1 = min(x0 + w, view.width), min(y0 + h, view.height)
        if ox1 > ox0 and oy1 > oy0:
            mine[oy0 - y0 : oy1 - y0, ox0 - x0 : ox1 - x0] = owner[oy0:oy1, ox0:ox1] == j
        on_top = (seen > 0.3) & mine  # out of the canvas counts as not visible
        ys_, xs_ = np.nonzero(on_top)
        if len(xs_) == 0:
            continue
        boxes.append(
            {
                "camera_id": row["camera_id"],
                "class_name": row["class_name"],
                "x1": float(x0 + xs_.min()),
                "y1": float(y0 + ys_.min()),
                "x2": float(x0 + xs_.max() + 1),
                "y2": float(y0 + ys_.max() + 1),
                "visible": float(on_top.sum()) / total,
            }
        )
    return boxes


def _hidden(walls: _Walls, view: _View, u: float, top: float, half: float, dist: float) -> bool:
    """True if walls nearer than ``dist`` cover the columns ``u +- half`` from row ``top`` down."""
    c0 = max(0, min(view.width - 1, int(math.floor(u - half))))
    c1 = max(0, min(view.width - 1, int(math.ceil(u + half)))) + 1
    occ = np.where(walls.dist[:, c0:c1] < dist - 0.05, walls.top[:, c0:c1], np.inf).min(axis=0)
    return bool(occ.max() <= top)


def _behind_relief(row: dict, view: _View) -> bool:
    """A wall camera seen closer to its wall's plane than its ``relief_deg`` (10-25 degrees: window
    reveals, pilasters, pipes, bay windows) is hidden by the facade, as is one seen from behind."""
    normal = row.get("normal", float("nan"))
    if math.isnan(normal):  # not on a wall
        return False
    dx, dy = view.x - row["x"], view.y - row["y"]
    dist = math.hypot(dx, dy)
    if dist < 1e-6:
        return False
    n = math.radians(normal)
    relief = row.get("relief_deg", GRAZING_DEG)
    return (dx * math.sin(n) + dy * math.cos(n)) / dist < math.sin(math.radians(relief))


def _own(owner: np.ndarray, x0: int, y0: int, alpha: np.ndarray, j: int) -> None:
    h, w = alpha.shape
    ox0, oy0 = max(x0, 0), max(y0, 0)
    ox1, oy1 = min(x0 + w, owner.shape[1]), min(y0 + h, owner.shape[0])
    if ox1 <= ox0 or oy1 <= oy0:
        return
    region = owner[oy0:oy1, ox0:ox1]
    region[alpha[oy0 - y0 : oy1 - y0, ox0 - x0 : ox1 - x0] > 0.5] = j


def _columns(table: pd.DataFrame) -> dict[str, np.ndarray]:
    """A table's columns as numpy arrays (cached: row access in pandas is slow)."""
    entry = _COLUMN_CACHE.get(id(table))
    if entry is None or entry[0] is not table:
        columns = {name: table[name].to_numpy() for name in table.columns} if len(table) else {}
        if len(_COLUMN_CACHE) > 16:
            _COLUMN_CACHE.clear()
        entry = _COLUMN_CACHE[id(table)] = (table, columns)
    return entry[1]


_COLUMN_CACHE: dict[int, tuple[pd.DataFrame, dict]] = {}


def _visibility(
    walls: _Walls, view: _View, x0: int, y0: int, shape: tuple, dist: float
) -> np.ndarray:
    """1 where a sprite pixel is not behind a nearer wall, else 0 (shape of the sprite)."""
    h, w = shape
    cols = np.clip(np.arange(x0, x0 + w), 0, view.width - 1)
    occ = walls.occluder_top(cols, dist - 0.05)
    rows = np.arange(y0, y0 + h, dtype=np.float64)[:, None] + 0.5
    return (rows < occ[None, :]).astype(np.float32)


def _composite(
    image: np.ndarray,
    x0: int,
    y0: int,
    premultiplied: np.ndarray,
    alpha: np.ndarray,
    visible: np.ndarray,
) -> None:
    """Blend a premultiplied sprite over ``image`` where ``visible`` (1) lets it show."""
    h, w = alpha.shape
    H, W = image.shape[:2]
    ax0, ay0 = max(x0, 0), max(y0, 0)
    ax1, ay1 = min(x0 + w, W), min(y0 + h, H)
    if ax1 <= ax0 or ay1 <= ay0:
        return
    sy, sx = slice(ay0 - y0, ay1 - y0), slice(ax0 - x0, ax1 - x0)
    vis = visible[sy, sx, None]
    region = image[ay0:ay1, ax0:ax1]
    region *= 1 - alpha[sy, sx, None] * vis
    region += premultiplied[sy, sx] * vis


class _Pen:
    """A supersampled RGBA canvas for one sprite, addressed in metres from its anchor (x right,
    y down); ``body`` is a second mask for what a camera's box covers."""

    def __init__(
        self,
        width_m: float,
        height_m: float,
        anchor_m: tuple[float, float],
        u: float,
        v: float,
        scale: float,
        *,
        body: bool = False,
    ) -> None:
        self.w = int(math.ceil(width_m * scale)) + 4
        self.h = int(math.ceil(height_m * scale)) + 4
        self.x0 = int(math.floor(u - anchor_m[0] * scale)) - 2
        self.y0 = int(math.floor(v - anchor_m[1] * scale)) - 2
        big = max(self.w, self.h)
        self.ss = SUPERSAMPLE if big <= 64 else (2 if big <= 200 else 1)
        self.s = scale * self.ss
        self.ax, self.ay = (u - self.x0) * self.ss, (v - self.y0) * self.ss
        self.rgba = np.zeros((self.h * self.ss, self.w * self.ss, 4), np.float32)
        self.body = np.zeros(self.rgba.shape[:2], np.float32) if body else None

    def p(self, x: float, y: float) -> tuple[int, int]:
        return int(round(self.ax + x * self.s)), int(round(self.ay + y * self.s))

    def n(self, metres: float) -> int:
        return max(1, int(round(metres * self.s)))

    def _targets(self, color, body: bool):
        yield self.rgba, (*color, 1.0)
        if body and self.body is not None:
            yield self.body, 1.0

    def line(self, a, b, color, width_m: float, *, body: bool = False) -> None:
        for target, value in self._targets(color, body):
            cv2.line(target, self.p(*a), self.p(*b), value, self.n(width_m))

    def rect(self, a, b, color, *, body: bool = False) -> None:
        for target, value in self._targets(color, body):
            cv2.rectangle(target, self.p(*a), self.p(*b), value, -1)

    def ellipse(
        self, c, axes_m, color, start: float = 0, end: float = 360, *, body: bool = False
    ) -> None:
        for target, value in self._targets(color, body):
            cv2.ellipse(
                target, self.p(*c), (self.n(axes_m[0]), self.n(axes_m[1])), 0, start, end, value, -1
            )

    def poly(self, points, color, *, body: bool = False) -> None:
        pts = np.array([self.p(*q) for q in points], np.int32)
        for target, value in self._targets(color, body):
            cv2.fillPoly(target, [pts], value)

    def finish(self):
        if self.ss > 1:
            rgba = cv2.resize(self.rgba, (self.w, self.h), interpolation=cv2.INTER_AREA)
            body = (
                None
                if self.body is None
                else cv2.resize(self.body, (self.w, self.h), interpolation=cv2.INTER_AREA)
            )
        else:
            rgba, body = self.rgba, self.body
        return self.x0, self.y0, rgba[:, :, :3], np.ascontiguousarray(rgba[:, :, 3]), body


def _camera_sprite_for(row: dict, view: _View, u: float, v: float, scale: float, light: dict):
    """The camera's sprite in the view's look: "alt"'s housings, the wider random look's, or these."""
    if light.get("style") == "alt":
        return _camera_sprite_alt(row, view, u, v, scale, housing=light["housing"])
    if light.get("version") == 2:
        return randomize.camera_sprite_wide(row, view, u, v, scale, look=light, pen_cls=_Pen)
    return _camera_sprite(row, view, u, v, scale, look=light)


def _camera_sprite(row: dict, view: _View, u: float, v: float, scale: float, *, look: dict | None = None):
    """A camera at its true distance: a dome (housing and hemisphere with a dark bubble, on a
    pendant or under a ceiling) or a directed camera (body, sun shield, lens, bracket). The box
    covers the camera and its bracket, not the wall or pole. The "random" look (``look``) varies
    the housing's grey, the dome's aspect and bubble, the body's thickness and the shield's."""
    rnd = look if look is not None and look.get("style") == "random" else None
    size = float(row["size_m"])
    arm = float(row.get("arm_m", 0.15))
    if size * scale < 0.8:
        return None
    to_eye = math.degrees(math.atan2(view.x - row["x"], view.y - row["y"]))
    rel = math.radians((row["facing"] - to_eye + 180) % 360 - 180)  # 0: looking at the eye
    dark = row["color"] == 1
    shell = (48.0, 48.0, 52.0) if dark else (222.0, 226.0, 228.0)
    shade = (32.0, 32.0, 36.0) if dark else (160.0, 165.0, 170.0)
    aspect, bubble, diam_k, shield = 0.95, 28.0, 0.34, 1.0
    if rnd is not None:
        base = rnd["dark"] if dark else rnd["shell"]
        shell = tuple(float(c) for c in base)
        shade = tuple(float(c) * (0.7 if dark else 0.72) for c in base)
        aspect, bubble, diam_k, shield = rnd["dome_aspect"], rnd["bubble"], rnd["bullet_diam"], rnd["shield"]
    extent = size * 1.2 + arm + 0.1
    pen = _Pen(2 * extent, 2 * extent, (extent, extent), u, v, scale, body=True)
    side = math.sin(rel)
    sign = 1.0 if side >= 0 else -1.0
    if row["class_name"] == "dome":
        r = size / 2
        if row["mount"] != "ceiling":  # pendant: a tube up to a short wall arm
            top = -0.3 * r - arm
            pen.line((0, -0.3 * r), (0, top), shade, 0.045, body=True)
            pen.line((0, top), (-sign * 0.12 * abs(side), top), shade, 0.04, body=True)
        pen.rect((-r, -0.32 * r), (r, 0), shell, body=True)
        pen.ellipse((0, 0), (r, aspect * r), shell, 0, 180, body=True)
        pen.ellipse((0, 0.06 * r), (0.75 * r, 0.76 * aspect * r), (bubble, bubble - 2, bubble), 0, 180)
        pen.ellipse((-0.28 * r, 0.3 * r), (0.14 * r, 0.09 * r), (120, 120, 125))
        pen.line((-r, -0.02 * r), (r, -0.02 * r), shade, 0.012)
    else:
        diam = diam_k * size
        fx = 0.5 * size * abs(side) * sign
        drop = 0.5 * size * math.sin(math.radians(row["tilt"])) * max(abs(side), 0.25)
        front, back = (fx, drop), (-fx, -drop)
        mid = (-0.25 * fx, -0.25 * drop - diam / 2)
        plate = (mid[0] - sign * 0.06 * abs(side), mid[1] - arm)
        pen.line(mid, plate, shade, 0.035, body=True)
        pen.rect(
            (plate[0] - 0.04, plate[1] - 0.05), (plate[0] + 0.04, plate[1] + 0.02), shade, body=True
        )
        pen.line(back, front, shell, diam, body=True)
        half = 0.55 * diam  # the housing's front face: a rounded box, wider than the lens
        pen.rect(
            (front[0] - half, front[1] - half),
            (front[0] + half, front[1] + 0.8 * half),
            shell,
            body=True,
        )
        pen.line(
            (back[0], back[1] - 0.6 * diam),
            (front[0] + 0.15 * fx, front[1] - 0.6 * diam),
            shell,
            shield * diam / 3,
            body=True,
        )  # sun shield
        pen.line(
            (back[0], back[1] + 0.3 * diam), (front[0], front[1] + 0.3 * diam), shade, diam / 3
        )
        facing_us = math.cos(rel)
        if facing_us > 0:  # the lens: a dark disc on the front face, an ellipse when seen obliquely
            lens = 0.26 * diam
            pen.ellipse(
                (front[0], front[1] + 0.05 * diam),
                (lens * max(facing_us, 0.25), lens),
                (22, 22, 26),
            )
            pen.ellipse(
                (front[0] - 0.3 * lens * facing_us, front[1] - 0.2 * lens),
                (0.25 * lens, 0.25 * lens),
                (95, 95, 100),
            )
    return pen.finish()


_ALT_HOUSINGS = [  # (shell, shade) BGR: black, beige, grey-blue
    ((30.0, 30.0, 30.0), (60.0, 60.0, 64.0)),
    ((170.0, 200.0, 215.0), (120.0, 145.0, 160.0)),
    ((150.0, 130.0, 110.0), (100.0, 88.0, 75.0)),
]


def _camera_sprite_alt(row: dict, view: _View, u: float, v: float, scale: float, *, housing: int):
    """The "alt" style's housings: a turret dome (a short cylinder holding a ball with its lens) and
    a bullet camera (a long rounded tube, no sun shield, on a straight arm); colours from
    ``_ALT_HOUSINGS`` (a dark camera stays dark)."""
    size = float(row["size_m"])
    arm = float(row.get("arm_m", 0.15))
    if size * scale < 0.8:
        return None
    to_eye = math.degrees(math.atan2(view.x - row["x"], view.y - row["y"]))
    rel = math.radians((row["facing"] - to_eye + 180) % 360 - 180)
    shell, shade = _ALT_HOUSINGS[0] if row["color"] == 1 else _ALT_HOUSINGS[housing % len(_ALT_HOUSINGS)]
    extent = size * 1.2 + arm + 0.1
    pen = _Pen(2 * extent, 2 * extent, (extent, extent), u, v, scale, body=True)
    side = math.sin(rel)
    sign = 1.0 if side >= 0 else -1.0
    if row["class_name"] == "dome":
        r = size / 2
        if row["mount"] != "ceiling":
            pen.rect((-0.5 * r, -0.45 * r - arm), (0.5 * r, -0.45 * r), shade, body=True)  # a square arm
        pen.rect((-0.9 * r, -0.45 * r), (0.9 * r, 0.1 * r), shell, body=True)  # the turret's base ring
        pen.ellipse((0, 0.15 * r), (0.7 * r, 0.7 * r), shell, body=True)  # the ball
        lens_x = 0.35 * r * side
        pen.ellipse((lens_x, 0.25 * r), (0.22 * r, 0.22 * r), (15, 15, 18))
        pen.line((-0.9 * r, 0.1 * r), (0.9 * r, 0.1 * r), shade, 0.015)
    else:
        diam = 0.26 * size
        fx = 0.6 * size * abs(side) * sign
        drop = 0.6 * size * math.sin(math.radians(row["tilt"])) * max(abs(side), 0.25)
        front, back = (fx, drop), (-fx, -drop)
        plate = (back[0], back[1] - arm)
        pen.line(back, plate, shade, 0.05, body=True)
        pen.line(back, front, shell, diam, body=True)
        pen.ellipse(front, (0.5 * diam, 0.5 * diam), shell, body=True)
        pen.ellipse(back, (0.5 * diam, 0.5 * diam), shade, body=True)
        facing_us = math.cos(rel)
        if facing_us > 0:
            pen.ellipse(front, (0.35 * diam * max(facing_us, 0.25), 0.35 * diam), (12, 12, 14))
    return pen.finish()


_SIGN_COLORS = [(40, 40, 200), (200, 90, 20), (30, 200, 230), (230, 230, 230), (40, 140, 40)]
_SIGN_COLORS_ARRAY = np.array(_SIGN_COLORS + [(60, 60, 60), (30, 30, 120), (150, 40, 40)], float)
_CAR_COLORS = [
    (40, 40, 40),
    (200, 200, 200),
    (150, 150, 155),
    (30, 30, 140),
    (120, 60, 20),
    (230, 230, 230),
    (60, 90, 60),
    (20, 20, 20),
]


def _object_sprite(row: dict, view: _View, u: float, v: float, scale: float, *, seed: int):
    """Street furniture and distractors at their true distance: lamps, poles, signs, signals,
    trees, parked cars, alarm boxes, wall units, wall lights and blade signs."""
    kind = row["kind"]
    size = float(row["size_m"])
    z = float(row["z"])
    variant = int(row["variant"])
    to_eye = math.degrees(math.atan2(view.x - row["x"], view.y - row["y"]))
    rel = math.radians((row["facing"] - to_eye + 180) % 360 - 180)
    if kind == "tree":
        return _tree_sprite(size, z, variant, u, v, scale, seed)
    if kind == "car":
        return _car_sprite(size, rel, variant, u, v, scale)
    pole = bool(row["pole"])
    if max(size, 0.12 * z if pole else 0) * scale < 0.7:
        return None
    width_m = max(size * 2.6, 0.6)
    above = size * 1.2 + 0.3
    below = z + 0.1 if pole else size * 1.2 + 0.2
    if (width_m * scale) * ((above + below) * scale) > 600_000:
        return None
    pen = _Pen(width_m, above + below, (width_m / 2, above), u, v, scale)
    grey = (85, 85, 90) if variant % 2 else (60, 70, 60)
    r = size / 2
    if pole:
        pen.line((0, z), (0, 0), grey, 0.12)
    if kind == "lamp":
        arm_x = math.copysign(size * 1.2, 1 if variant % 2 else -1)
        pen.line((0, 0), (arm_x, -0.1), grey, 0.06)
        pen.ellipse((arm_x, 0), (0.8 * r, 0.35 * r), (70, 75, 80))
        pen.ellipse((arm_x, 0.2 * r), (0.5 * r, 0.15 * r), (200, 220, 230))
    elif kind == "signal":
        pen.rect((-0.35 * r, -r), (0.35 * r, r), (30, 30, 30))
        for k, color in enumerate(((40, 40, 220), (40, 200, 230), (60, 200, 60))):
            pen.ellipse((0, -0.6 * r + 0.6 * k * r), (0.22 * r, 0.22 * r), color)
    elif kind == "sign":
        color = _SIGN_COLORS[variant % len(_SIGN_COLORS)]
        face = max(abs(math.cos(rel)), 0.08)  # signs face along the street: thin when seen edge-on
        if variant % 3 == 0:
            pen.ellipse((0, 0), (r * face, r), color)
            pen.ellipse((0, 0), (0.7 * r * face, 0.7 * r), (235, 235, 235))
        else:
            pen.rect((-r * face, -0.7 * r), (r * face, 0.7 * r), color)
            if variant % 3 == 1:
                pen.rect((-0.6 * r * face, -0.1 * r), (0.6 * r * face, 0.1 * r), (235, 235, 235))
    elif kind == "alarm":
        color = ((40, 40, 190), (230, 230, 230), (160, 90, 30), (40, 160, 220))[variant % 4]
        pen.rect((-0.8 * r, -r), (0.8 * r, r), color)
        pen.ellipse((0, -0.3 * r), (0.3 * r, 0.3 * r), (60, 60, 200))
    elif kind == "unit":
        color = ((200, 200, 200), (170, 175, 180), (120, 120, 125), (215, 215, 210))[variant % 4]
        pen.rect((-r, -0.6 * r), (r, 0.6 * r), color)
        pen.ellipse((0.3 * r, 0), (0.4 * r, 0.4 * r), (90, 90, 95))
    elif kind == "wall_light":
        pen.ellipse((0, 0), (0.6 * r, 0.9 * r), (50, 50, 55))
        pen.ellipse((0, 0.2 * r), (0.4 * r, 0.4 * r), (170, 215, 235))
    elif kind == "blade":  # a sign sticking out of the wall: full width when seen along the street
        color = _SIGN_COLORS[variant % len(_SIGN_COLORS)]
        out = 2 * r * max(abs(math.sin(rel)), 0.06)
        direction = 1.0 if math.sin(rel) >= 0 else -1.0
        pen.line((0, -0.55 * r), (direction * out, -0.55 * r), (50, 50, 50), 0.03)
        pen.rect((0, -0.45 * r), (direction * out, 0.45 * r), color)
        pen.rect(
            (direction * out * 0.2, -0.1 * r), (direction * out * 0.8, 0.1 * r), (235, 235, 235)
        )
    return pen.finish()


def _tree_sprite(size: float, z: float, variant: int, u: float, v: float, scale: float, seed: int):
    """A street tree: trunk from the ground, a canopy of overlapping green blobs of radius ``size``
    (m) centred ``z`` m up; its shape is seeded by the tree's index."""
    if size * scale < 1.0:
        return None
    radius = size
    pen = _Pen(2.4 * radius, 1.2 * radius + z + 0.2, (1.2 * radius, 1.2 * radius), u, v, scale)
    rng = np.random.default_rng(seed)
    bark = (50, 60, 70)
    pen.line((0, z), (0, -0.2 * radius), bark, 0.25)
    base = np.array(((40, 90, 60), (35, 80, 45), (50, 105, 80), (45, 75, 70))[variant % 4], float)
    for k in range(14):
        angle = rng.uniform(0, 2 * math.pi)
        dist = radius * 0.55 * math.sqrt(rng.random())
        blob = radius * rng.uniform(0.3, 0.55)
        shade = base * rng.uniform(0.7, 1.25)
        pen.ellipse(
            (dist * math.cos(angle), dist * math.sin(angle) * 0.9), (blob, blob * 0.9), tuple(shade)
        )
    return pen.finish()


def _car_sprite(length: float, rel: float, variant: int, u: float, v: float, scale: float):
    """A parked car anchored at its roof centre: ``length`` m long, 1.8 m wide, 1.45 m tall, seen
    from the side when ``rel`` is 90 degrees."""
    width_m = 1.8
    side = abs(math.sin(rel))
    span = length * side + width_m * abs(math.cos(rel))
    height = 1.45
    if span * scale < 1.0 or span * scale > 4000:
        return None
    pen = _Pen(span + 0.2, height + 0.1, (span / 2 + 0.1, 0.05), u, v, scale)
    color = _CAR_COLORS[variant % len(_CAR_COLORS)]
    half = span / 2
    pen.rect((-half, 0.5), (half, height - 0.2), color)  # body
    cabin = half * (0.62 if side > 0.5 else 0.85)
    pen.poly([(-cabin, 0.5), (-cabin * 0.8, 0.02), (cabin * 0.7, 0.02), (cabin, 0.5)], color)
    pen.poly(
        [(-cabin * 0.9, 0.48), (-cabin * 0.75, 0.1), (cabin * 0.65, 0.1), (cabin * 0.88, 0.48)],
        (60, 50, 45),
    )
    if side > 0.3:
        for x in (-half * 0.68, half * 0.68):
            pen.ellipse((x, height - 0.25), (0.33, 0.33), (25, 25, 25))
    pen.rect((-half, height - 0.45), (half, height - 0.38), tuple(0.7 * c for c in color))
    return pen.finish()


def _clutter(image: np.ndarray, boxes: pd.DataFrame, light: dict, rng: np.random.Generator) -> None:
    """The random look's clutter on the final canvas (float BGR): sagging overhead cables and small
    dark blobs; an item that would come within 3 px of a camera box is left out whole (labels stay
    exact, and no gap in a cable marks a camera)."""
    h, w = image.shape[:2]
    near = np.zeros((h, w), bool)
    for b in boxes.itertuples():
        near[max(int(b.y1) - 3, 0) : int(math.ceil(b.y2)) + 3, max(int(b.x1) - 3, 0) : int(math.ceil(b.x2)) + 3] = True
    items = []
    for _ in range(int(rng.poisson(RANDOM_LOOK["cables"]))):
        y0, y1 = rng.uniform(0, 0.5 * h, size=2)
        sag = rng.uniform(3, 40)
        xs = np.linspace(0, w - 1, 24)
        ys = y0 + (y1 - y0) * xs / (w - 1) + sag * (1 - ((xs - w / 2) / (w / 2)) ** 2)
        pts = np.stack([xs, ys], axis=1).round().astype(np.int32)
        thickness = int(rng.integers(1, 3))
        items.append((float(rng.uniform(15, 80)), lambda m, pts=pts, t=thickness: cv2.polylines(m, [pts], False, 1, t)))
    for _ in range(int(rng.poisson(RANDOM_LOOK["clutter"]))):
        centre = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        axes = (int(rng.integers(1, 6)), int(rng.integers(1, 6)))
        angle = float(rng.uniform(0, 180))
        items.append((float(rng.uniform(15, 90)),
                      lambda m, c=centre, a=axes, r=angle: cv2.ellipse(m, c, a, r, 0, 360, 1, -1)))
    for grey, draw in items:
        mask = np.zeros((h, w), np.uint8)
        draw(mask)
        mask = mask.astype(bool)
        if not (mask & near).any():
            image[mask] = grey


def _birds(image: np.ndarray, view: _View, walls: _Walls, rng: np.random.Generator) -> None:
    """A few small dark birds in the sky (per view, not in the scene)."""
    n = int(rng.poisson(0.6))
    sky_rows = max(int(view.cy) - 5, 0)
    for _ in range(n):
        if sky_rows < 10:
            return
        x = int(rng.integers(0, view.width))
        y = int(rng.integers(0, sky_rows))
        if np.isfinite(walls.cum_top[-1][x]) and y >= walls.cum_top[-1][x]:
            continue  # behind a building
        span = int(rng.integers(2, 6))
        color = (40, 40, 45)
        cv2.line(image, (x - span, y - 1), (x, y + 1), color, 1, cv2.LINE_AA)
        cv2.line(image, (x, y + 1), (x + span, y - 1), color, 1, cv2.LINE_AA)


# --- finishing ----------------------------------------------------------------------------------


def _warp_boxes(boxes: list[dict], homography: np.ndarray) -> list[dict]:
    out = []
    for box in boxes:
        pts = np.array(
            [
                [box["x1"], box["y1"]],
                [box["x2"], box["y1"]],
                [box["x1"], box["y2"]],
                [box["x2"], box["y2"]],
            ],
            np.float64,
        )[None]
        warped = cv2.perspectiveTransform(pts, homography)[0]
        out.append(
            {
                **box,
                "x1": float(warped[:, 0].min()),
                "y1": float(warped[:, 1].min()),
                "x2": float(warped[:, 0].max()),
                "y2": float(warped[:, 1].max()),
            }
        )
    return out


def _finish_boxes(boxes: list[dict], width: int, height: int) -> pd.DataFrame:
    """Clip to the frame and keep boxes that are at least half visible, at least half in frame
    and at least 3 px wide and high."""
    rows = []
    for box in boxes:
        x1, y1 = max(box["x1"], 0.0), max(box["y1"], 0.0)
        x2, y2 = min(box["x2"], float(width)), min(box["y2"], float(height))
        if x2 <= x1 or y2 <= y1 or box["visible"] < 0.5:
            continue
        if (x2 - x1) * (y2 - y1) < 0.5 * (box["x2"] - box["x1"]) * (box["y2"] - box["y1"]):
            continue  # mostly out of frame
        if min(x2 - x1, y2 - y1) < MIN_BOX_PX:
            continue
        rows.append(
            {
                "camera_id": box["camera_id"],
                "class_name": box["class_name"],
                "x1": x1,
                "y1": y1,
                "x2": x2,
                "y2": y2,
            }
        )
    if not rows:
        return pd.DataFrame(
            {
                c: pd.Series([], dtype=object if c in ("camera_id", "class_name") else float)
                for c in BOX_COLUMNS
            }
        )
    return pd.DataFrame(rows, columns=BOX_COLUMNS)


def _post(image: np.ndarray, rng: np.random.Generator, light: dict) -> np.ndarray:
    """Exposure and white balance, sensor noise, lens blur; returns uint8 BGR."""
    h, w = image.shape[:2]
    gain = light["gain"] * light["tint"]
    image = cv2.multiply(image, (float(gain[0]), float(gain[1]), float(gain[2]), 0.0))
    image = cv2.scaleAdd(_tile_slice(_noise_tile(), h, w, rng), float(light["noise"]), image)
    out = cv2.convertScaleAbs(image)
    if light["blur"] > 0.3:
        out = cv2.GaussianBlur(out, (3, 3) if "jpeg" not in light else (5, 5), light["blur"])
    if "jpeg" in light:  # the "alt" style's compression
        ok, data = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(light["jpeg"])])
        if ok:
            out = cv2.imdecode(data, cv2.IMREAD_COLOR)
    return out


def jpeg_quality(seed: int) -> int:
    """JPEG quality (72-92) used for a view rendered with ``seed``."""
    return int(np.random.default_rng([int(seed) & 0xFFFFFFFF, 5]).integers(72, 93))
