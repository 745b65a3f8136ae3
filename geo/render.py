"""Render a street-level view of a :class:`geo.scene.Scene` with exact camera boxes.

A pinhole camera (eye 2.5 m above the road) looks along ``heading`` (degrees clockwise from the
scene's grid north, about true north) with ``pitch`` (degrees, up positive) and a horizontal
field of view ``fov``. The background is ray cast per image column against the facades near the
eye (the three nearest wall hits per column, so taller buildings show above lower ones), then
shaded per pixel with numpy: sky, road and sidewalk with shadows, facades with windows, shop
fronts and colour variety. Cameras, street furniture and camera-like distractors are drawn with
OpenCV at their true distance (so their size in pixels follows from geometry), supersampled and
masked by the walls in front of them. A camera is labelled only if it is in front of the eye, in
frame, at least half visible and at least 3 px (sqrt of its box area).

Non-zero pitch is rendered level and warped by the rotation's homography, which is exact for a
pinhole camera.
"""

from __future__ import annotations

import math
from functools import lru_cache

import cv2
import numpy as np
import pandas as pd

from geo.scene import Scene

EYE_HEIGHT_M = 2.5
MAX_RANGE_M = 220.0  # facades farther than this are not drawn (haze)
OBJECT_RANGE_M = 90.0  # objects farther than this are below a pixel
LAYERS = 3
MIN_BOX_PX = 3.0
SUPERSAMPLE = 4
BOX_COLUMNS = ["camera_id", "class_name", "x1", "y1", "x2", "y2"]


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
        tile += weight * cv2.resize(small, (size + 2 * scale, size + 2 * scale),
                                    interpolation=cv2.INTER_CUBIC)[scale:scale + size, scale:scale + size]
    tile -= tile.min()
    return tile / max(float(tile.max()), 1e-6)


class _View:
    """Camera geometry of one level (pitch 0) canvas: focal length, principal point, axes."""

    def __init__(self, x: float, y: float, heading: float, f: float, width: int, height: int,
                 cx: float, cy: float) -> None:
        self.x, self.y, self.z = x, y, EYE_HEIGHT_M
        self.width, self.height, self.cx, self.cy, self.f = width, height, cx, cy, f
        h = math.radians(heading)
        self.fwd = np.array([math.sin(h), math.cos(h)])
        self.right = np.array([math.cos(h), -math.sin(h)])

    def project(self, x: np.ndarray, y: np.ndarray, z: np.ndarray
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


def render_view(scene: Scene, *, x: float, y: float, heading: float, pitch: float = 0,
                fov: float = 90, width: int = 640, height: int = 640, seed: int = 0
                ) -> tuple[np.ndarray, pd.DataFrame]:
    """Render the view from ``(x, y)`` (scene metres), eye 2.5 m above the road.

    Returns the image (height x width x 3, uint8, BGR; noise and blur applied, not yet JPEG
    compressed) and its camera boxes (camera_id, class_name, x1, y1, x2, y2 in pixels). The same
    arguments give the same image and boxes.
    """
    return _render(scene, x, y, heading, pitch, fov, width, height, seed, draw=True)


def boxes_for_view(scene: Scene, *, x: float, y: float, heading: float, pitch: float = 0,
                   fov: float = 90, width: int = 640, height: int = 640) -> pd.DataFrame:
    """The camera boxes :func:`render_view` would give, without drawing the image."""
    return _render(scene, x, y, heading, pitch, fov, width, height, 0, draw=False)[1]


def _render(scene: Scene, x: float, y: float, heading: float, pitch: float, fov: float,
            width: int, height: int, seed: int, *, draw: bool) -> tuple[np.ndarray | None, pd.DataFrame]:
    if not (0 < fov < 170):
        raise ValueError(f"fov must be in (0, 170) degrees, got {fov}")
    f = focal_px(fov, width)
    homography = None
    if abs(pitch) < 1e-9:
        base_w, base_h, cx, cy = width, height, width / 2.0, height / 2.0
    else:
        base_w, base_h, cx, cy, homography = _level_canvas(f, pitch, width, height)
    view = _View(float(x), float(y), float(heading), f, base_w, base_h, cx, cy)
    walls = _cast_walls(scene, view)
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, 99])
    light = _lighting(rng)
    image = _background(scene, view, walls, light, rng) if draw else None
    boxes = _draw_objects(scene, view, walls, image, light, draw=draw)
    if draw:
        _birds(image, view, walls, rng)
    if homography is not None:
        if draw:
            image = cv2.warpPerspective(image, homography, (width, height), flags=cv2.INTER_LINEAR,
                                        borderMode=cv2.BORDER_REPLICATE)
        boxes = _warp_boxes(boxes, homography)
    boxes = _finish_boxes(boxes, width, height)
    if draw:
        image = _post(image, rng, light)
    return image, boxes


# --- geometry ---------------------------------------------------------------------------------

def _level_canvas(f: float, pitch: float, width: int, height: int
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
        ahead = ((qx * view.fwd[0] + qy * view.fwd[1]) > -1) | ((ex * view.fwd[0] + ey * view.fwd[1]) > -1)
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
    inc = np.abs(dx[None, :] * fac.nx[seg] + dy[None, :] * fac.ny[seg]) if len(fac) else np.ones_like(dist)
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
        "sky_top": np.array([rng.uniform(150, 215), rng.uniform(120, 170), rng.uniform(80, 120)])
        if sunny else np.full(3, rng.uniform(170, 215)),
        "sky_low": np.array([rng.uniform(215, 240), rng.uniform(205, 225), rng.uniform(190, 215)]),
        "asphalt": rng.uniform(75, 115),
        "sidewalk_m": rng.uniform(2.0, 4.0),
        "noise": rng.uniform(2.0, 6.0),
        "blur": rng.uniform(0.0, 1.0),
        "clouds": rng.uniform(0.0, 0.7),
    }


def _background(scene: Scene, view: _View, walls: _Walls, light: dict, rng: np.random.Generator
                ) -> np.ndarray:
    h, w = view.height, view.width
    rows = (np.arange(h, dtype=np.float32) + 0.5)[:, None]
    image = np.empty((h, w, 3), np.float32)
    _sky(image, view, light, rng)
    _ground(image, scene, view, walls, light, rows)
    for k in range(LAYERS - 1, -1, -1):
        _facade_layer(image, scene, view, walls, light, k, rows)
    return image


def _sky(image: np.ndarray, view: _View, light: dict, rng: np.random.Generator) -> None:
    h, w = view.height, view.width
    horizon = int(np.clip(math.ceil(view.cy), 0, h))
    if horizon <= 0:
        return
    r = np.arange(horizon, dtype=np.float32)[:, None, None]
    frac = np.clip((view.cy - r) / max(view.f, 1.0), 0, 1) ** 0.6
    sky = light["sky_low"][None, None, :] * (1 - frac) + light["sky_top"][None, None, :] * frac
    clouds = _cloud_tile()
    oy, ox = rng.integers(0, clouds.shape[0] - 1, 2)
    tile = np.resize(np.roll(np.roll(clouds, -oy, 0), -ox, 1), (horizon, w)) if horizon * w > clouds.size \
        else np.roll(np.roll(clouds, -oy, 0), -ox, 1)[:horizon, :w]
    if tile.shape != (horizon, w):
        tile = cv2.resize(clouds, (w, horizon))
    cover = np.clip((tile - (1 - light["clouds"])) * 3, 0, 1)[:, :, None]
    image[:horizon] = sky * (1 - cover) + 235 * cover


def _ground(image: np.ndarray, scene: Scene, view: _View, walls: _Walls, light: dict,
            rows: np.ndarray) -> None:
    h = view.height
    start = int(np.clip(math.floor(view.cy), 0, h))
    if start >= h:
        return
    r = rows[start:]
    below = np.maximum(r - view.cy, 0.5)
    t = view.f * view.z * walls.L[None, :] / below  # horizontal distance of the ground point, m
    d0, inc = walls.dist[0][None, :], walls.inc[0][None, :]
    perp = np.where(np.isfinite(d0), (d0 - t) * inc, np.inf)  # metres in front of the facade
    sidewalk = perp < light["sidewalk_m"]
    kerb = (perp >= light["sidewalk_m"]) & (perp < light["sidewalk_m"] + 0.18)
    base = np.float32(light["asphalt"])
    value = np.where(sidewalk, base + 45, np.where(kerb, base + 70, base))
    # Paving joints on the sidewalk, lane dashes far from walls.
    value = np.where(sidewalk & ((t % 1.2) < 0.06), value - 25, value)
    if light["sunny"]:
        fac = scene.facades
        seg = walls.seg[0]
        away = (fac.nx[seg] * light["sun"][0] + fac.ny[seg] * light["sun"][1]) < 0.1 if len(fac) \
            else np.zeros(view.width, bool)
        shadow_len = fac.height[seg] / math.tan(math.radians(light["sun_elev"])) * 0.5 if len(fac) \
            else np.zeros(view.width)
        in_shadow = away[None, :] & (perp < shadow_len[None, :])
        value = np.where(in_shadow, value * 0.62, value * 1.08)
    haze = np.clip(t / 400.0, 0, 1)
    value = value * (1 - haze) + 200 * haze
    ground = np.repeat(value[:, :, None], 3, axis=2)
    ground[:, :, 0] *= 1.02
    # Only rows below each column's nearest wall (or the horizon where there is none) are ground.
    visible = r >= np.where(np.isfinite(walls.dist[0]), walls.bottom[0], view.cy)[None, :]
    region = image[start:]
    np.copyto(region, ground.astype(np.float32), where=visible[:, :, None])


def _facade_layer(image: np.ndarray, scene: Scene, view: _View, walls: _Walls, light: dict, k: int,
                  rows: np.ndarray) -> None:
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
    col_shop = ((s % 6.0) / 6.0) > 0.12
    fz = (z - ground_floor[None, :]) / floor[None, :]
    fz -= np.floor(fz)
    above_ground_floor = z > ground_floor[None, :]
    win = (col_window[None, :] & (fz > 0.22) & (fz < (0.22 + st["window_height"][b]).astype(f32)[None, :])
           & above_ground_floor & (z < (top - 0.7)[None, :]))
    shop = col_shop[None, :] & (z > 0.4) & (z < (ground_floor - 0.7)[None, :])
    cornice = (z > (top - 0.35)[None, :]) | ((fz < 0.04) & above_ground_floor)
    material = win.view(np.uint8) + 2 * shop.view(np.uint8) + 3 * cornice.view(np.uint8)
    np.minimum(material, 3, out=material)
    lit = fac.nx[seg] * light["sun"][0] + fac.ny[seg] * light["sun"][1]
    shade = (0.75 + 0.35 * np.clip(lit, -1, 1)) if light["sunny"] else (0.85 + 0.08 * lit)
    shade = shade * (0.92 + 0.08 * walls.inc[k])
    wall_rgb = st["color"][b] * shade[:, None]
    window_rgb = st["window"][b] * (0.8 + 0.4 * (1 - walls.inc[k]))[:, None]
    palette = np.stack([wall_rgb, window_rgb, window_rgb * 0.6, wall_rgb * 1.12])  # (4, w, 3)
    haze = np.clip(np.where(hit, dist, 0) / 600.0, 0, 0.6)[None, :, None]
    palette = (palette * (1 - haze) + light["sky_low"][None, None, :] * haze).astype(f32)
    w = view.width
    index = material.astype(np.int32) * w + np.arange(w, dtype=np.int32)[None, :]
    pixel = palette.reshape(-1, 3).take(index, axis=0)
    np.copyto(image[r0:r1], pixel, where=mask[:, :, None])


# --- objects ------------------------------------------------------------------------------------

def _draw_objects(scene: Scene, view: _View, walls: _Walls, image: np.ndarray | None, light: dict,
                  *, draw: bool) -> list[dict]:
    """Draw furniture, distractors and cameras far to near; return the camera boxes (level canvas
    pixels, unclipped) with their visible fraction."""
    cams, objs = _columns(scene.cameras), _columns(scene.objects)
    tables, ids = [], []
    for kind, table in (("object", objs), ("camera", cams)):
        if not table or (kind == "object" and not draw):
            continue
        near = np.flatnonzero((np.abs(table["x"] - view.x) < OBJECT_RANGE_M)
                              & (np.abs(table["y"] - view.y) < OBJECT_RANGE_M))
        tables += [kind] * len(near)
        ids.append(np.stack([np.full(len(near), 0 if kind == "object" else 1), near], axis=1))
    if not tables:
        return []
    items = np.concatenate(ids)
    xs, ys, zs = (np.array([(objs if t == 0 else cams)[c][i] for t, i in items]) for c in ("x", "y", "z"))
    u, v, depth, hdist = view.project(xs, ys, zs)
    order = np.argsort(-hdist, kind="stable")
    boxes = []
    for j in order:
        if depth[j] < 0.5 or hdist[j] > OBJECT_RANGE_M:
            continue
        scale = view.f / depth[j]  # px per metre
        if u[j] < -60 - 3 * scale or u[j] > view.width + 60 + 3 * scale:
            continue
        kind = "camera" if items[j, 0] == 1 else "object"
        table = cams if kind == "camera" else objs
        row = {name: column[items[j, 1]] for name, column in table.items()}
        if kind == "camera":
            sprite = _camera_sprite(row, view, u[j], v[j], scale, depth[j])
        else:
            sprite = _object_sprite(row, view, u[j], v[j], scale, depth[j])
        if sprite is None:
            continue
        x0, y0, rgb, alpha, body = sprite
        visible = _visibility(walls, view, x0, y0, alpha.shape, hdist[j])
        if draw:
            _composite(image, x0, y0, rgb, alpha * visible, light)
        if kind == "camera":
            seen = body * visible
            total = float(body.sum())
            if total <= 0:
                continue
            frac = float(seen.sum()) / total
            ys_, xs_ = np.nonzero(seen > 0.3)
            if len(xs_) == 0:
                continue
            boxes.append({"camera_id": row["camera_id"], "class_name": row["class_name"],
                          "x1": float(x0 + xs_.min()), "y1": float(y0 + ys_.min()),
                          "x2": float(x0 + xs_.max() + 1), "y2": float(y0 + ys_.max() + 1),
                          "visible": frac})
    return boxes


def _columns(table: pd.DataFrame) -> dict[str, np.ndarray]:
    """A table's columns as numpy arrays (cached on the frame: row access in pandas is slow)."""
    entry = _COLUMN_CACHE.get(id(table))
    if entry is None or entry[0] is not table:
        columns = {name: table[name].to_numpy() for name in table.columns} if len(table) else {}
        if len(_COLUMN_CACHE) > 16:
            _COLUMN_CACHE.clear()
        entry = _COLUMN_CACHE[id(table)] = (table, columns)
    return entry[1]


_COLUMN_CACHE: dict[int, tuple[pd.DataFrame, dict]] = {}


def _visibility(walls: _Walls, view: _View, x0: int, y0: int, shape: tuple, dist: float) -> np.ndarray:
    """1 where a sprite pixel is not behind a nearer wall, else 0 (shape of the sprite)."""
    h, w = shape
    cols = np.clip(np.arange(x0, x0 + w), 0, view.width - 1)
    occ = walls.occluder_top(cols, dist - 0.05)
    rows = np.arange(y0, y0 + h, dtype=np.float64)[:, None] + 0.5
    return (rows < occ[None, :]).astype(np.float32)


def _composite(image: np.ndarray, x0: int, y0: int, rgb: np.ndarray, alpha: np.ndarray,
               light: dict) -> None:
    h, w = alpha.shape
    H, W = image.shape[:2]
    ax0, ay0 = max(x0, 0), max(y0, 0)
    ax1, ay1 = min(x0 + w, W), min(y0 + h, H)
    if ax1 <= ax0 or ay1 <= ay0:
        return
    a = alpha[ay0 - y0:ay1 - y0, ax0 - x0:ax1 - x0, None]
    c = rgb[ay0 - y0:ay1 - y0, ax0 - x0:ax1 - x0]
    region = image[ay0:ay1, ax0:ax1]
    region *= 1 - a
    region += c * a


def _canvas(width_m: float, height_m: float, anchor_m: tuple[float, float], u: float, v: float,
            scale: float) -> tuple[int, int, int, int, float, float]:
    """Integer sprite placement: (x0, y0, w, h) px and the supersampled anchor position."""
    ss = SUPERSAMPLE
    w = int(math.ceil(width_m * scale)) + 4
    h = int(math.ceil(height_m * scale)) + 4
    x0 = int(math.floor(u - anchor_m[0] * scale)) - 2
    y0 = int(math.floor(v - anchor_m[1] * scale)) - 2
    return x0, y0, w, h, (u - x0) * ss, (v - y0) * ss


def _finish_sprite(big_rgb: np.ndarray, big_alpha: np.ndarray, big_body: np.ndarray, w: int, h: int):
    rgb = cv2.resize(big_rgb, (w, h), interpolation=cv2.INTER_AREA)
    alpha = cv2.resize(big_alpha, (w, h), interpolation=cv2.INTER_AREA)
    body = cv2.resize(big_body, (w, h), interpolation=cv2.INTER_AREA)
    return rgb, alpha, body


def _pt(x: float, y: float) -> tuple[int, int]:
    return int(round(x)), int(round(y))


def _camera_sprite(row: dict, view: _View, u: float, v: float, scale: float, depth: float):
    """A camera at its true distance: a dome (housing, hemisphere with a dark bubble, on a
    pendant or a ceiling) or a directed camera (body, sun shield, lens, bracket). Returns the
    sprite placement, colour, alpha and the "body" alpha that defines the box (camera and mount
    bracket, not the pole or wall)."""
    size = float(row["size_m"])
    arm_m = float(row.get("arm_m", 0.15))
    if size * scale < 0.8:
        return None
    ss = SUPERSAMPLE
    s = scale * ss  # supersampled px per metre
    # Angle between the camera's facing and the line from the camera to the eye (0: facing us).
    to_eye = math.degrees(math.atan2(view.x - row["x"], view.y - row["y"]))
    rel = math.radians((row["facing"] - to_eye + 180) % 360 - 180)
    dark = row["color"] == 1
    shell = (48.0, 48.0, 52.0) if dark else (222.0, 226.0, 228.0)
    shell_shadow = (32.0, 32.0, 36.0) if dark else (165.0, 170.0, 175.0)
    extent = size * 1.2 + arm_m + 0.1
    x0, y0, w, h, ax, ay = _canvas(2 * extent, 2 * extent, (extent, extent), u, v, scale)
    rgb = np.zeros((h * ss, w * ss, 4), np.float32)  # colour + alpha
    body = np.zeros((h * ss, w * ss), np.float32)

    def P(x_m: float, y_m: float) -> tuple[int, int]:
        return int(round(ax + x_m * s)), int(round(ay + y_m * s))

    def width(m: float) -> int:
        return max(1, int(round(m * s)))

    if row["class_name"] == "dome":
        r = size / 2
        if row["mount"] == "ceiling":
            top = -0.3 * r
        else:  # pendant: a tube up to a short wall arm
            top = -0.3 * r - arm_m
            for target, value in ((rgb, (*shell_shadow, 1.0)), (body, 1.0)):
                cv2.line(target, P(0, -0.3 * r), P(0, top), value, width(0.045), cv2.LINE_AA)
                side = 0.12 if math.sin(rel) >= 0 else -0.12
                cv2.line(target, P(0, top), P(-side * abs(math.sin(rel)), top), value, width(0.04), cv2.LINE_AA)
        for target, value in ((rgb, (*shell, 1.0)), (body, 1.0)):
            cv2.rectangle(target, P(-r, -0.32 * r), P(r, 0), value, -1, cv2.LINE_AA)
            cv2.ellipse(target, P(0, 0), (width(r), width(0.95 * r)), 0, 0, 180, value, -1, cv2.LINE_AA)
        cv2.ellipse(rgb, P(0, 0.06 * r), (width(0.75 * r), width(0.72 * r)), 0, 0, 180, (28, 26, 28, 1.0), -1,
                    cv2.LINE_AA)
        cv2.ellipse(rgb, P(-0.28 * r, 0.3 * r), (width(0.14 * r), width(0.09 * r)), 0, 0, 360,
                    (120, 120, 125, 1.0), -1, cv2.LINE_AA)
        cv2.line(rgb, P(-r, -0.02 * r), P(r, -0.02 * r), (*shell_shadow, 1.0), width(0.012), cv2.LINE_AA)
    else:
        length = size
        diam = 0.34 * size
        tilt = math.radians(row["tilt"])
        side = math.sin(rel)  # > 0: the lens points to the right in the image
        sign = 1.0 if side >= 0 else -1.0
        fx = 0.5 * length * abs(side) * sign
        drop = 0.5 * length * math.sin(tilt) * max(abs(side), 0.25)
        front, back = (fx, drop), (-fx, -drop)
        # Bracket: from the top of the body up to a wall/pole plate behind it.
        mid = (-0.25 * fx, -0.25 * drop - diam / 2)
        plate = (mid[0] - sign * 0.06 * abs(side), mid[1] - arm_m)
        for target, value in ((rgb, (*shell_shadow, 1.0)), (body, 1.0)):
            cv2.line(target, P(*mid), P(*plate), value, width(0.035), cv2.LINE_AA)
            cv2.rectangle(target, P(plate[0] - 0.04, plate[1] - 0.05), P(plate[0] + 0.04, plate[1] + 0.02),
                          value, -1, cv2.LINE_AA)
        for target, value in ((rgb, (*shell, 1.0)), (body, 1.0)):
            cv2.line(target, P(*back), P(*front), value, width(diam), cv2.LINE_AA)
            shield_front = (front[0] + 0.12 * fx, front[1] - 0.55 * diam)
            cv2.line(target, P(back[0], back[1] - 0.55 * diam), P(*shield_front), value, width(diam / 3),
                     cv2.LINE_AA)
        cv2.line(rgb, P(back[0], back[1] + 0.3 * diam), P(front[0], front[1] + 0.3 * diam),
                 (*shell_shadow, 1.0), width(diam / 3), cv2.LINE_AA)
        facing_us = math.cos(rel)
        if facing_us > -0.2:  # the lens end: a dark disc, larger the more it faces us
            lens = max(0.3, 0.42 * diam * (0.35 + 0.65 * max(facing_us, 0)))
            cv2.circle(rgb, P(*front), width(lens), (22, 22, 26, 1.0), -1, cv2.LINE_AA)
            cv2.circle(rgb, P(front[0] - 0.2 * lens, front[1] - 0.2 * lens), width(lens * 0.3),
                       (90, 90, 95, 1.0), -1, cv2.LINE_AA)
    small = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA)
    body_small = cv2.resize(body, (w, h), interpolation=cv2.INTER_AREA)
    alpha = small[:, :, 3].copy()
    color = small[:, :, :3] / np.maximum(alpha, 1e-3)[:, :, None]
    return x0, y0, color, alpha, body_small


_SIGN_COLORS = [(40, 40, 200), (200, 90, 20), (30, 200, 230), (230, 230, 230)]


def _object_sprite(row: pd.Series, view: _View, u: float, v: float, scale: float, depth: float):
    """Street furniture and distractors: lamps, poles, signs, signals, alarm boxes, wall units
    and wall lights."""
    kind = row["kind"]
    size = float(row["size_m"])
    ss = SUPERSAMPLE
    s = scale * ss
    z = float(row["z"])
    pole = bool(row["pole"])
    if max(size, 0.12 * z if pole else 0) * scale < 0.7:
        return None
    width_m = max(size * 2.2, 0.6)
    above = size * 1.2 + 0.3
    below = z + 0.1 if pole else size * 1.2 + 0.2
    x0, y0, w, h, ax, ay = _canvas(width_m, above + below, (width_m / 2, above), u, v, scale)
    if w * h > 400_000:
        return None
    big = (w * ss, h * ss)
    rgb = np.zeros((big[1], big[0], 3), np.float32)
    alpha = np.zeros((big[1], big[0]), np.float32)
    variant = int(row["variant"])
    grey = [85, 85, 90] if variant % 2 else [60, 70, 60]
    if pole:
        thick = max(1, int(round(0.12 * s)))
        ground_y = ay + z * s
        for target, value in ((rgb, grey), (alpha, 1.0)):
            cv2.line(target, _pt(ax, ground_y), _pt(ax, ay), value, thick, cv2.LINE_AA)
    r = size * s / 2
    if kind == "lamp":
        arm_x = ax + math.copysign(size * 1.2 * s, 1 if variant % 2 else -1)
        for target, value in ((rgb, grey), (alpha, 1.0)):
            cv2.line(target, _pt(ax, ay), _pt(arm_x, ay - 0.1 * s), value, max(1, int(0.06 * s)), cv2.LINE_AA)
        for target, value in ((rgb, [70, 75, 80]), (alpha, 1.0)):
            cv2.ellipse(target, _pt(arm_x, ay), _pt(r * 0.8, r * 0.35), 0, 0, 360, value, -1, cv2.LINE_AA)
        cv2.ellipse(rgb, _pt(arm_x, ay + r * 0.2), _pt(r * 0.5, r * 0.15), 0, 0, 360, [200, 220, 230], -1, cv2.LINE_AA)
    elif kind in ("sign", "signal"):
        if kind == "signal":
            box = (ax - r * 0.35, ay - r, ax + r * 0.35, ay + r)
            for target, value in ((rgb, [30, 30, 30]), (alpha, 1.0)):
                cv2.rectangle(target, _pt(box[0], box[1]), _pt(box[2], box[3]), value, -1, cv2.LINE_AA)
            for n, color in enumerate(([40, 40, 220], [40, 200, 230], [60, 200, 60])):
                cv2.circle(rgb, _pt(ax, ay - r * 0.6 + n * r * 0.6), max(1, int(r * 0.22)), color, -1, cv2.LINE_AA)
        else:
            color = list(_SIGN_COLORS[variant % len(_SIGN_COLORS)])
            if variant % 3 == 0:
                for target, value in ((rgb, color), (alpha, 1.0)):
                    cv2.circle(target, _pt(ax, ay), max(1, int(r)), value, -1, cv2.LINE_AA)
                cv2.circle(rgb, _pt(ax, ay), max(1, int(r * 0.7)), [235, 235, 235], -1, cv2.LINE_AA)
            else:
                for target, value in ((rgb, color), (alpha, 1.0)):
                    cv2.rectangle(target, _pt(ax - r, ay - r * 0.7), _pt(ax + r, ay + r * 0.7), value, -1, cv2.LINE_AA)
    elif kind == "alarm":
        color = [[40, 40, 190], [230, 230, 230], [160, 90, 30], [40, 160, 220]][variant % 4]
        for target, value in ((rgb, color), (alpha, 1.0)):
            cv2.rectangle(target, _pt(ax - r * 0.8, ay - r), _pt(ax + r * 0.8, ay + r), value, -1, cv2.LINE_AA)
        cv2.circle(rgb, _pt(ax, ay - r * 0.3), max(1, int(r * 0.3)), [60, 60, 200], -1, cv2.LINE_AA)
    elif kind == "unit":
        color = [[200, 200, 200], [170, 175, 180], [120, 120, 125], [215, 215, 210]][variant % 4]
        for target, value in ((rgb, color), (alpha, 1.0)):
            cv2.rectangle(target, _pt(ax - r, ay - r * 0.6), _pt(ax + r, ay + r * 0.6), value, -1, cv2.LINE_AA)
        cv2.circle(rgb, _pt(ax + r * 0.3, ay), max(1, int(r * 0.4)), [90, 90, 95], -1, cv2.LINE_AA)
    elif kind == "wall_light":
        for target, value in ((rgb, [50, 50, 55]), (alpha, 1.0)):
            cv2.ellipse(target, _pt(ax, ay), _pt(r * 0.6, r * 0.9), 0, 0, 360, value, -1, cv2.LINE_AA)
        cv2.ellipse(rgb, _pt(ax, ay + r * 0.2), _pt(r * 0.4, r * 0.4), 0, 0, 360, [170, 215, 235], -1, cv2.LINE_AA)
    elif kind == "camera_pole":
        pass
    body = np.zeros_like(alpha)
    return (x0, y0, *_finish_sprite(rgb, alpha, body, w, h))


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
        pts = np.array([[box["x1"], box["y1"]], [box["x2"], box["y1"]],
                        [box["x1"], box["y2"]], [box["x2"], box["y2"]]], np.float64)[None]
        warped = cv2.perspectiveTransform(pts, homography)[0]
        out.append({**box, "x1": float(warped[:, 0].min()), "y1": float(warped[:, 1].min()),
                    "x2": float(warped[:, 0].max()), "y2": float(warped[:, 1].max())})
    return out


def _finish_boxes(boxes: list[dict], width: int, height: int) -> pd.DataFrame:
    """Clip to the frame and keep boxes that are at least half visible and at least 3 px."""
    rows = []
    for box in boxes:
        x1, y1 = max(box["x1"], 0.0), max(box["y1"], 0.0)
        x2, y2 = min(box["x2"], float(width)), min(box["y2"], float(height))
        if x2 <= x1 or y2 <= y1 or box["visible"] < 0.5:
            continue
        if math.sqrt((x2 - x1) * (y2 - y1)) < MIN_BOX_PX:
            continue
        rows.append({"camera_id": box["camera_id"], "class_name": box["class_name"],
                     "x1": x1, "y1": y1, "x2": x2, "y2": y2})
    if not rows:
        return pd.DataFrame({c: pd.Series([], dtype=object if c in ("camera_id", "class_name") else float)
                             for c in BOX_COLUMNS})
    return pd.DataFrame(rows, columns=BOX_COLUMNS)


def _post(image: np.ndarray, rng: np.random.Generator, light: dict) -> np.ndarray:
    """Exposure, tint, sensor noise and lens blur; returns uint8 BGR."""
    h, w = image.shape[:2]
    image *= (light["gain"] * light["tint"]).astype(np.float32)[None, None, :]
    noise = _noise_tile()
    oy = int(rng.integers(0, noise.shape[0] - h)) if noise.shape[0] > h else 0
    ox = int(rng.integers(0, noise.shape[1] - w)) if noise.shape[1] > w else 0
    patch = noise[oy:oy + h, ox:ox + w]
    if patch.shape[:2] == (h, w):
        image += patch * np.float32(light["noise"])
    out = np.clip(image, 0, 255).astype(np.uint8)
    if light["blur"] > 0.3:
        out = cv2.GaussianBlur(out, (3, 3), light["blur"])
    return out


def jpeg_quality(seed: int) -> int:
    """JPEG quality (72-92) used for a view rendered with ``seed``."""
    return int(np.random.default_rng([int(seed) & 0xFFFFFFFF, 5]).integers(72, 93))
