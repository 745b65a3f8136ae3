"""The wider random look (domain randomization version 2, issue 28), for ``geo.sim.render``.

``render_view(..., style="random", randomization=2)`` draws every view's light, sky, facade
palette, texture and shadows, clutter, photometry and every camera's housing from the ranges in
:data:`WIDE_LOOK` (uniform per view unless said). Version 1 (the default, ``render.RANDOM_LOOK``)
is round 3's random look and stays bit-identical; the "default" and "alt" looks never reach this
module. It adds to version 1:

- light and sky: wider exposure (0.4-1.6), white balance with a green/magenta axis, sun 5-75 deg,
  blown-out white and any-hue skies, cloud grey;
- facades: any-hue palette turns with a saturation scale, facade textures (stone courses, panels,
  cladding stripes, per building), stronger grime, cast shadows of the opposite buildings on
  sunlit facades;
- ground: asphalt and paving tint, dappled (tree) shadows;
- photometry in the renderer: blur before noise (sigma up to 2.2 px), motion blur, colour noise,
  haze veil, vignetting, tone (gamma) and colourfulness, lower resolution;
- clutter: more cables (light or dark), coloured blobs, rectangles (stickers, signs, boxes),
  pipes and poles, overhanging foliage; all kept whole off camera boxes (3 px), so labels stay exact;
- camera housings drawn per camera: domes (with or without a skirt, flat mini domes, tall
  bubbles), PTZ heads (a cylinder over a bubble), smoked or clear bubbles with the lens seen
  inside; bullet cameras with and without a sun shield, box cameras with a protruding lens (with
  or without a hood); pendants, wall arms, L-brackets and goosenecks, brackets from above, below or
  the side; neutral to lightly tinted colours of any hue (chroma <= 12%), dark housings dark, with
  an accent colour for shields and brackets now and then.

The box stays the housing's visible extent: every opaque part of a housing (and its bracket) is
drawn into the sprite's body mask, so :func:`camera_sprite_wide` returns a body mask that covers
exactly its opaque pixels. Nothing here is the held-out "alt" look's code or its specific
housings or palettes (turret domes of a flat ring and a ball, black / beige / grey-blue housings,
row-permuted palettes, its sky formula and JPEG step).

This module never imports ``geo.sim.render``: the renderer passes in what it needs.
"""

from __future__ import annotations

import math
import zlib

import cv2
import numpy as np

RANDOMIZATIONS = (1, 2)  # 1: round 3's random look (render.RANDOM_LOOK); 2: this module's wider one
# The wider random look's ranges (uniform per view unless said); docs/detector-randomization.md copies them.
WIDE_LOOK = {
    "sunny": 0.5,  # probability of direct sun
    "sun_elev_deg": (5.0, 75.0),
    "gain": (0.4, 1.6),  # exposure
    "tint": (0.75, 1.25),  # white balance gains of blue and red
    "tint_g": (0.9, 1.1),  # and of green (a green/magenta axis)
    "sky": ("blue", "grey", "tinted", "white", "hue"),  # zenith kind, equally likely
    "sky_grey": (100.0, 245.0),
    "sky_low": (130.0, 255.0),  # horizon colour, per channel
    "cloud_grey": (170.0, 250.0),
    "clouds": (0.0, 1.0),
    "asphalt": (30.0, 165.0),
    "ground_tint": (0.9, 1.1),  # per channel
    "sidewalk_m": (1.0, 6.0),
    "palette_diag": (0.2, 1.0),  # facade colour mix, as version 1 but wider ...
    "palette_off": (0.0, 0.6),
    "palette_gain": (0.6, 1.35),
    "hue_turn": 0.5,  # ... then, with this probability, a turn of any angle about the grey axis
    "facade_saturation": (0.3, 1.6),
    "grime": (0.0, 3.5),
    "patterns": ("none", "courses", "panels", "stripes"),  # per building, equally likely
    "course_m": (0.2, 0.9),  # stone courses / siding, metres
    "panel_m": (0.8, 3.0),
    "stripe_m": (0.15, 0.6),
    "pattern_depth": (0.03, 0.22),  # darkening of joints and stripes
    "shadow": (0.3, 0.9),  # ground shadow darkness
    "facade_shadow": 0.6,  # probability (sunny views) of cast shadows on lit facades ...
    "facade_shadow_dark": (0.45, 0.8),  # ... and their darkness
    "dapple": 0.3,  # probability of dappled ground shadows ...
    "dapple_dark": (0.2, 0.5),  # ... and their strength
    "glass": (0.4, 1.8),
    "haze_m": (150.0, 1200.0),
    "veil": 0.35,  # probability of a haze veil over the view ...
    "veil_amount": (0.05, 0.4),  # ... its strength at the top
    "vignette": 0.4,  # probability ...
    "vignette_amount": (0.1, 0.5),  # ... darkening in the corners
    "gamma": (0.7, 1.5),
    "colourfulness": (0.4, 1.5),  # final saturation scale
    "noise": (0.0, 16.0),  # sensor noise, grey levels
    "chroma_noise": (0.0, 1.0),  # share of it per channel
    "blur": (0.0, 2.2),  # lens blur sigma, px (applied above 0.3)
    "motion_blur": 0.15,  # probability ...
    "motion_px": (2, 6),  # ... and length, px
    "lowres": 0.2,  # probability ...
    "lowres_factor": (1.3, 3.0),  # ... of a down/up resampling by this factor
    "shell_grey": (140.0, 250.0),  # light housings
    "dark_grey": (12.0, 90.0),  # dark housings
    "shell_chroma": 0.12,  # housing tint: any hue, chroma up to this share of the grey
    "accent": 0.25,  # probability that shields and brackets take a contrasting colour
    "dome_kinds": (("dome", 0.45), ("mini", 0.25), ("ptz", 0.3)),
    "directed_kinds": (("bullet_shield", 0.4), ("bullet", 0.3), ("box", 0.3)),
    "clear_bubble": 0.3,  # probability that a dome's bubble is clear (lens seen inside), else smoked
    "cables": 2.5,  # mean per view (Poisson)
    "blobs": 5.0,
    "patches": 2.0,  # rectangles: stickers, signs, boxes
    "pipes": 0.8,  # vertical pipes and poles
    "foliage": 0.4,  # overhanging branches
}


def _u(rng: np.random.Generator, key: str) -> float:
    lo, hi = WIDE_LOOK[key]
    return float(rng.uniform(lo, hi))


def _chance(rng: np.random.Generator, key: str) -> bool:
    return bool(rng.random() < WIDE_LOOK[key])


def _pick(rng: np.random.Generator, key: str) -> str:
    names, weights = zip(*WIDE_LOOK[key])
    return names[int(rng.choice(len(names), p=np.array(weights) / sum(weights)))]


def hue_turn(angle_deg: float) -> np.ndarray:
    """The 3x3 rotation by ``angle_deg`` about the grey axis (1, 1, 1): a hue turn of any colour."""
    a = math.radians(angle_deg)
    k = np.ones((3, 3)) / 3.0
    cross = np.array([[0, -1, 1], [1, 0, -1], [-1, 1, 0]]) / math.sqrt(3.0)
    return math.cos(a) * np.eye(3) + (1 - math.cos(a)) * k + math.sin(a) * cross


def _tinted(grey: float, rng: np.random.Generator, chroma: float) -> np.ndarray:
    """A BGR colour of mean ``grey`` with a hue drawn uniformly and chroma up to ``chroma``."""
    angle = rng.uniform(0, 2 * math.pi)
    c = rng.uniform(0, chroma)
    return np.clip(grey * (1 + c * np.cos(angle + np.array([0.0, 2.0944, 4.1888]))), 0, 255)


def _sky_colours(rng: np.random.Generator, sky_blue) -> tuple[str, np.ndarray, np.ndarray]:
    kind = WIDE_LOOK["sky"][int(rng.integers(0, len(WIDE_LOOK["sky"])))]
    low = rng.uniform(*WIDE_LOOK["sky_low"], size=3)
    if kind == "blue":
        top = sky_blue(rng)
    elif kind == "grey":
        top = np.full(3, _u(rng, "sky_grey"))
    elif kind == "tinted":
        top = _u(rng, "sky_grey") * rng.uniform(0.8, 1.2, size=3)
    elif kind == "white":  # blown out
        top = np.full(3, rng.uniform(228, 255))
        low = np.full(3, rng.uniform(228, 255)) * rng.uniform(0.97, 1.0, size=3)
    else:  # any hue, mild saturation
        top = _tinted(_u(rng, "sky_grey"), rng, 0.35)
    return kind, np.clip(top, 0, 255), low


def lighting_wide(rng: np.random.Generator, *, sky_blue) -> dict:
    """The wider random look's per-view parameters (``sky_blue(rng)``: the renderer's clear sky)."""
    R = WIDE_LOOK
    sunny = _chance(rng, "sunny")
    azimuth = rng.uniform(0, 360)
    kind, top, low = _sky_colours(rng, sky_blue)
    mix = np.eye(3) * rng.uniform(*R["palette_diag"], size=3)[:, None] + rng.uniform(*R["palette_off"], size=(3, 3))
    mix = mix / mix.sum(axis=1, keepdims=True) * _u(rng, "palette_gain")
    turn = hue_turn(rng.uniform(0, 360)) if _chance(rng, "hue_turn") else np.eye(3)
    sat = _u(rng, "facade_saturation")
    saturate = sat * np.eye(3) + (1 - sat) * np.ones((3, 3)) / 3.0
    light = {
        "style": "random",
        "version": 2,
        "sunny": sunny,
        "sun": np.array([math.sin(math.radians(azimuth)), math.cos(math.radians(azimuth))]),
        "sun_elev": _u(rng, "sun_elev_deg"),
        "gain": _u(rng, "gain"),
        "tint": np.array([_u(rng, "tint"), _u(rng, "tint_g"), _u(rng, "tint")]),
        "sky": kind,
        "sky_top": top,
        "sky_low": low,
        "cloud_grey": _u(rng, "cloud_grey"),
        "clouds": _u(rng, "clouds"),
        "asphalt": _u(rng, "asphalt"),
        "ground_rgb": rng.uniform(*R["ground_tint"], size=3).astype(np.float32),
        "sidewalk_m": _u(rng, "sidewalk_m"),
        "palette": saturate @ turn @ mix,
        "grime": _u(rng, "grime"),
        "pattern_seed": int(rng.integers(0, 2**31)),
        "course_m": _u(rng, "course_m"),
        "panel_m": _u(rng, "panel_m"),
        "stripe_m": _u(rng, "stripe_m"),
        "pattern_depth": _u(rng, "pattern_depth"),
        "shadow": _u(rng, "shadow"),
        "facade_shadow": sunny and _chance(rng, "facade_shadow"),
        "facade_shadow_dark": _u(rng, "facade_shadow_dark"),
        "facade_shadow_h": float(rng.uniform(0.15, 0.9)),  # share of the facade's height
        "facade_shadow_slope": float(rng.uniform(-0.8, 0.8)),  # m of height per m along
        "dapple": _u(rng, "dapple_dark") if _chance(rng, "dapple") else 0.0,
        "glass": _u(rng, "glass"),
        "haze_m": _u(rng, "haze_m"),
        "veil": _u(rng, "veil_amount") if _chance(rng, "veil") else 0.0,
        "veil_air": rng.uniform(170, 245) * rng.uniform(0.92, 1.08, size=3),
        "vignette": _u(rng, "vignette_amount") if _chance(rng, "vignette") else 0.0,
        "gamma": _u(rng, "gamma"),
        "colourfulness": _u(rng, "colourfulness"),
        "noise": _u(rng, "noise"),
        "chroma_noise": _u(rng, "chroma_noise"),
        "blur": _u(rng, "blur"),
        "motion": int(rng.integers(R["motion_px"][0], R["motion_px"][1] + 1)) if _chance(rng, "motion_blur") else 0,
        "motion_angle": float(rng.uniform(0, 180)),
        "lowres": _u(rng, "lowres_factor") if _chance(rng, "lowres") else 1.0,
        "shape_seed": int(rng.integers(0, 2**31)),
    }
    return light


# --- facades and ground ---------------------------------------------------------------------------


def facade_multiplier(material: np.ndarray, z: np.ndarray, along: np.ndarray, slope: np.ndarray,
                      building: np.ndarray, top: np.ndarray, lit: np.ndarray, look: dict) -> np.ndarray:
    """Per-pixel brightness factor (rows, cols) float32 of one facade layer: a texture per building
    (stone courses, panels, cladding stripes or none; faded out where its period is under ~3 px)
    on plain wall (material 0), and the opposite buildings' cast shadow on sunlit facades.

    ``z``: height of each pixel, m; ``along``, ``slope`` (m per px), ``building``, ``top`` (facade
    height, m) and ``lit`` (sun on the facade, -1..1): per column."""
    f32 = np.float32
    n = len(WIDE_LOOK["patterns"])
    kind = ((building.astype(np.int64) * 2654435761 + look["pattern_seed"]) >> 7) % n  # per column
    vary = 0.7 + 0.6 * (((building.astype(np.int64) * 40503 + look["pattern_seed"]) % 1000) / 1000.0)
    slope = np.maximum(slope, 1e-4)
    depth = f32(look["pattern_depth"])
    along = along.astype(f32)[None, :]
    line = np.zeros(z.shape, f32)
    for index, name in enumerate(WIDE_LOOK["patterns"]):
        cols = np.flatnonzero(kind == index)
        if name == "none" or not len(cols):
            continue
        key = {"courses": "course_m", "panels": "panel_m", "stripes": "stripe_m"}[name]
        period = (look[key] * vary[cols]).astype(f32)
        fade = np.clip((period / slope[cols] - 2.0) / 3.0, 0, 1).astype(f32)  # period in px: >= 5 px full
        keep = fade > 0
        cols, period, fade = cols[keep], period[keep][None, :], fade[keep][None, :]
        if not len(cols):
            continue
        zc, ac = z[:, cols], along[:, cols]
        if name == "courses":
            joint = ((zc / period) % 1) < 0.12
        elif name == "panels":
            joint = (((zc / period) % 1) < 0.05) | (((ac / period) % 1) < 0.04)
        else:  # stripes: alternate darker boards
            joint = np.broadcast_to(np.floor(ac / period) % 2 == 1, zc.shape)
        line[:, cols] = joint * fade
    mult = 1 - depth * line * (material == 0)
    if look.get("facade_shadow"):
        edge = look["facade_shadow_h"] * top + look["facade_shadow_slope"] * ((along[0] + 7.0 * building) % 16.0 - 8.0)
        shaded = (z < edge.astype(f32)[None, :]) & (lit > 0.05)[None, :]
        mult = np.where(shaded, mult * f32(look["facade_shadow_dark"]), mult)
    return mult.astype(f32)


def dapple_factor(cloud: np.ndarray, strength: float) -> np.ndarray:
    """Dappled (tree) shadows from a smooth noise window in [0, 1]: a factor 1 - strength .. 1."""
    return (1 - np.float32(strength) * np.clip((cloud - 0.45) * 5, 0, 1)).astype(np.float32)


# --- camera housings ------------------------------------------------------------------------------


def _housing_colours(rng: np.random.Generator, dark: bool) -> dict:
    R = WIDE_LOOK
    grey = _u(rng, "dark_grey") if dark else _u(rng, "shell_grey")
    shell = _tinted(grey, rng, R["shell_chroma"])
    shade = shell * rng.uniform(0.55, 0.8)
    accent = shell
    if _chance(rng, "accent"):
        accent = _tinted(_u(rng, "shell_grey") if dark else _u(rng, "dark_grey"), rng, R["shell_chroma"])
    clear = _chance(rng, "clear_bubble")
    bubble = np.full(3, rng.uniform(140, 215) if clear else rng.uniform(8, 80))
    return {"shell": tuple(shell), "shade": tuple(shade), "accent": tuple(accent), "bubble": tuple(bubble),
            "clear": clear, "lens": tuple(np.full(3, rng.uniform(8, 35))),
            "glint": tuple(np.full(3, rng.uniform(120, 240)))}


def camera_sprite_wide(row: dict, view, u: float, v: float, scale: float, *, look: dict, pen_cls):
    """A camera in the wider random look: housing shape, bracket and colours drawn per camera from
    ``look["shape_seed"]`` and its id (the same in every call, so boxes need no image); returns
    ``pen_cls(...).finish()`` (x0, y0, premultiplied rgb, alpha, body) or None when under a pixel."""
    size = float(row["size_m"])
    arm = float(row.get("arm_m", 0.15))
    if size * scale < 0.8:
        return None
    rng = _camera_rng(row["camera_id"], look)
    kind = _pick(rng, "dome_kinds" if row["class_name"] == "dome" else "directed_kinds")
    to_eye = math.degrees(math.atan2(view.x - row["x"], view.y - row["y"]))
    rel = math.radians((row["facing"] - to_eye + 180) % 360 - 180)  # 0: looking at the eye
    colours = _housing_colours(rng, row["color"] == 1)
    extent = 1.9 * size + 1.6 * arm + 0.15
    pen = pen_cls(2 * extent, 2 * extent, (extent, extent), u, v, scale, body=True)
    if row["class_name"] == "dome":
        _dome(pen, rng, kind, row, size, arm, math.sin(rel), colours)
    else:
        _directed(pen, rng, kind, row, size, arm, rel, colours)
    return pen.finish()


def _camera_rng(camera_id, look: dict) -> np.random.Generator:
    return np.random.default_rng([int(look["shape_seed"]), zlib.crc32(str(camera_id).encode())])


def housing_kind(camera_id, class_name: str, look: dict) -> str:
    """The housing a camera gets in a view of the wider look (``look``: its parameters): one of
    ``WIDE_LOOK["dome_kinds"]`` or ``["directed_kinds"]``."""
    return _pick(_camera_rng(camera_id, look), "dome_kinds" if class_name == "dome" else "directed_kinds")


def _dome(pen, rng, kind: str, row, size: float, arm: float, side: float, c: dict) -> None:
    """A dome (skirt and bubble), a flat mini dome or a PTZ head, on a ceiling or a wall/pole mount."""
    sign = 1.0 if side >= 0 else -1.0
    r = size / 2 * rng.uniform(0.8, 1.2)
    shell, bubble = c["shell"], c["bubble"]
    if kind == "dome":
        skirt, aspect = rng.uniform(0.0, 0.5) * r, rng.uniform(0.55, 1.2)
        if skirt > 0.02 * r:
            pen.rect((-r, -skirt), (r, 0), shell, body=True)
        pen.ellipse((0, 0), (r, aspect * r), shell, 0, 180, body=True)
        inner = rng.uniform(0.7, 0.88)
        pen.ellipse((0, 0.03 * r), (inner * r, inner * aspect * r), bubble, 0, 180, body=True)
        lens_y, bowl = 0.4 * inner * aspect * r, inner * r
        top = -skirt
    elif kind == "mini":
        aspect = rng.uniform(0.35, 0.6)
        pen.rect((-1.15 * r, -0.14 * r), (1.15 * r, 0), shell, body=True)
        pen.ellipse((0, 0), (0.85 * r, aspect * 0.85 * r), bubble, 0, 180, body=True)
        lens_y, bowl = 0.4 * aspect * 0.85 * r, 0.85 * r
        top = -0.14 * r
    else:  # PTZ: a cylinder over a bubble
        r *= 1.1
        height = rng.uniform(0.6, 1.3) * r
        pen.rect((-0.8 * r, -height), (0.8 * r, 0), shell, body=True)
        pen.ellipse((0, -height), (0.8 * r, 0.15 * r), shell, 180, 360, body=True)
        pen.line((-0.8 * r, -0.1 * r), (0.8 * r, -0.1 * r), c["shade"], 0.012, body=True)
        pen.ellipse((0, 0), (0.8 * r, 0.8 * r), bubble, 0, 180, body=True)
        lens_y, bowl = 0.4 * r, 0.8 * r
        top = -height - 0.15 * r
    if c["clear"]:  # the lens seen through a clear bubble
        pen.ellipse((0.3 * bowl * side, lens_y), (0.2 * bowl, 0.45 * lens_y), c["lens"], body=True)
    pen.ellipse((-0.35 * bowl, 0.6 * lens_y), (0.12 * bowl, 0.2 * lens_y), c["glint"], body=True)  # a highlight
    _dome_mount(pen, rng, row, r, arm, top, side, sign, c)


def _dome_mount(pen, rng, row, r: float, arm: float, top: float, side: float, sign: float, c: dict) -> None:
    bracket = c["accent"] if rng.random() < 0.5 else c["shade"]
    if row["mount"] == "ceiling":
        if rng.random() < 0.5:  # a collar under the ceiling
            pen.rect((-0.45 * r, top - 0.1 * r), (0.45 * r, top), bracket, body=True)
        return
    out = -sign * 0.6 * arm * max(abs(side), 0.15)  # the wall or pole, seen sideways
    width = rng.uniform(0.03, 0.07)
    mount = ("pendant", "arm", "L", "gooseneck")[int(rng.integers(0, 4))]
    pen.rect((-0.3 * r, top - 0.08 * r), (0.3 * r, top), bracket, body=True)  # the cap
    if mount == "pendant":  # a pipe up to a short wall arm
        up = top - arm * rng.uniform(0.8, 1.25)
        pen.line((0, top), (0, up), bracket, width, body=True)
        pen.line((0, up), (0.4 * out, up), bracket, width, body=True)
    elif mount == "arm":  # straight out of the wall at the cap's height
        pen.line((0, top - 0.04), (out, top - 0.04), bracket, width, body=True)
        pen.rect((out - 0.03, top - 0.12), (out + 0.03, top + 0.04), bracket, body=True)
    elif mount == "L":
        up = top - 0.6 * arm
        pen.line((0, top), (0, up), bracket, width, body=True)
        pen.line((0, up), (out, up), bracket, width, body=True)
        pen.rect((out - 0.03, up - 0.06), (out + 0.03, up + 0.06), bracket, body=True)
    else:  # gooseneck: a quarter circle up and into the wall
        rise = 0.7 * arm
        t = np.linspace(0, math.pi / 2, 7)
        pts = [(out * (1 - math.cos(a)), top - rise * math.sin(a)) for a in t]
        for a, b in zip(pts[:-1], pts[1:]):
            pen.line(a, b, bracket, width, body=True)
        pen.rect((out - 0.03, top - rise - 0.06), (out + 0.03, top - rise + 0.06), bracket, body=True)


def _directed(pen, rng, kind: str, row, size: float, arm: float, rel: float, c: dict) -> None:
    """A bullet camera with or without a sun shield, or a box camera with a protruding lens, on a
    bracket from above, below or the side."""
    side, facing = math.sin(rel), math.cos(rel)
    sign = 1.0 if side >= 0 else -1.0
    length = size * rng.uniform(0.8, 1.3)
    diam = size * (rng.uniform(0.3, 0.5) if kind == "box" else rng.uniform(0.22, 0.42))
    fx = 0.5 * length * abs(side) * sign
    drop = 0.5 * length * math.sin(math.radians(row["tilt"])) * max(abs(side), 0.25)
    front, back = (fx, drop), (-fx, -drop)
    shell, shade = c["shell"], c["shade"]
    _bracket(pen, rng, (-0.2 * fx, -0.2 * drop), diam, arm, side, sign, c)
    if kind == "box":
        half = diam / 2
        pen.poly([(back[0], back[1] - half), (front[0], front[1] - half), (front[0], front[1] + half),
                  (back[0], back[1] + half)], shell, body=True)
        pen.rect((front[0] - half * max(abs(facing), 0.2), front[1] - half),
                 (front[0] + half * max(abs(facing), 0.2), front[1] + half), shell, body=True)
        lens_len = size * rng.uniform(0.12, 0.3) * abs(side) * sign
        tip = (front[0] + lens_len, front[1] + 0.3 * half)
        pen.line((front[0], front[1] + 0.3 * half), tip, c["lens"], 0.55 * diam, body=True)
        shielded = rng.random() < 0.5
    else:
        taper = rng.uniform(0.75, 1.0)
        pen.poly([(back[0], back[1] - taper * diam / 2), (front[0], front[1] - diam / 2),
                  (front[0], front[1] + diam / 2), (back[0], back[1] + taper * diam / 2)], shell, body=True)
        pen.ellipse(back, (0.5 * taper * diam * max(abs(facing), 0.3), 0.5 * taper * diam), shell, body=True)
        pen.line((back[0], back[1] + 0.25 * diam), (front[0], front[1] + 0.25 * diam), shade, diam / 4, body=True)
        pen.ellipse(front, (0.5 * diam * max(abs(facing), 0.3), 0.5 * diam), shade, body=True)  # the bezel
        shielded = kind == "bullet_shield"
    if facing > 0:  # the lens, an ellipse when seen obliquely
        lens = 0.3 * diam
        pen.ellipse((front[0], front[1] + 0.05 * diam), (lens * max(facing, 0.25), lens), c["lens"], body=True)
        pen.ellipse((front[0] - 0.3 * lens * facing, front[1] - 0.2 * lens), (0.25 * lens, 0.25 * lens), c["glint"],
                    body=True)
    if shielded:  # a sun shield above, overhanging the front
        over = rng.uniform(0.05, 0.3) * length * abs(side) * sign
        lift = rng.uniform(0.55, 0.75) * diam
        pen.line((back[0], back[1] - lift), (front[0] + over, front[1] - lift), c["accent"],
                 diam * rng.uniform(0.15, 0.4), body=True)


def _bracket(pen, rng, mid, diam: float, arm: float, side: float, sign: float, c: dict) -> None:
    colour = c["accent"] if rng.random() < 0.5 else c["shade"]
    width = rng.uniform(0.03, 0.06)
    out = -sign * 0.6 * arm * max(abs(side), 0.15)
    where = ("above", "below", "side")[int(rng.integers(0, 3))]
    pen.ellipse(mid, (0.6 * width, 0.6 * width), colour, body=True)  # the ball joint
    if where == "above":
        plate = (mid[0] + 0.3 * out, mid[1] - diam / 2 - arm)
        pen.line(mid, plate, colour, width, body=True)
    elif where == "below":
        plate = (mid[0] + 0.3 * out, mid[1] + diam / 2 + 0.8 * arm)
        pen.line(mid, plate, colour, width, body=True)
    else:
        knee = (mid[0], mid[1] - diam)
        plate = (mid[0] + out, knee[1])
        pen.line(mid, knee, colour, width, body=True)
        pen.line(knee, plate, colour, width, body=True)
    pen.rect((plate[0] - 0.04, plate[1] - 0.05), (plate[0] + 0.04, plate[1] + 0.05), colour, body=True)


# --- clutter and photometry -----------------------------------------------------------------------


def clutter_wide(image: np.ndarray, boxes, rng: np.random.Generator) -> None:
    """The wider look's clutter on the final canvas (float BGR): cables, blobs, rectangles, pipes and
    foliage; an item that would come within 3 px of a camera box is left out whole."""
    h, w = image.shape[:2]
    near = np.zeros((h, w), bool)
    for b in boxes.itertuples():
        near[max(int(b.y1) - 3, 0): int(math.ceil(b.y2)) + 3, max(int(b.x1) - 3, 0): int(math.ceil(b.x2)) + 3] = True
    items = []  # (colour, bounding box x0, y0, x1, y1 in px, draw(mask, ox, oy) with the box's origin)
    for _ in range(int(rng.poisson(WIDE_LOOK["cables"]))):
        y0, y1 = rng.uniform(0, 0.6 * h, size=2)
        x0, x1 = sorted(rng.uniform(-0.3 * w, 1.3 * w, size=2))
        xs = np.linspace(x0, x1, 24)
        mid = (x0 + x1) / 2
        sag = rng.uniform(2, 45) * (1 - ((xs - mid) / max(mid - x0, 1)) ** 2)
        ys = y0 + (y1 - y0) * (xs - x0) / max(x1 - x0, 1) + sag
        pts = np.stack([xs, ys], axis=1).round().astype(np.int32)
        colour, t = _clutter_colour(rng, light=0.2), int(rng.integers(1, 4))
        items.append((colour, (*(pts.min(axis=0) - t), *(pts.max(axis=0) + t)),
                      lambda m, ox, oy, p=pts, t=t: cv2.polylines(m, [p - np.int32([ox, oy])], False, 1, t)))
    for _ in range(int(rng.poisson(WIDE_LOOK["blobs"]))):
        cx, cy = int(rng.integers(0, w)), int(rng.integers(0, h))
        axes = (int(rng.integers(1, 9)), int(rng.integers(1, 9)))
        angle, r = float(rng.uniform(0, 180)), max(axes) + 1
        items.append((_clutter_colour(rng, light=0.3), (cx - r, cy - r, cx + r, cy + r),
                      lambda m, ox, oy, c=(cx, cy), a=axes, q=angle: cv2.ellipse(m, (c[0] - ox, c[1] - oy), a, q, 0,
                                                                                 360, 1, -1)))
    for _ in range(int(rng.poisson(WIDE_LOOK["patches"]))):
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        pw, ph = int(rng.integers(3, 41)), int(rng.integers(3, 41))
        items.append((_clutter_colour(rng, light=0.6, vivid=0.5), (x, y, x + pw, y + ph),
                      lambda m, ox, oy, x=x, y=y, pw=pw, ph=ph: cv2.rectangle(m, (x - ox, y - oy),
                                                                              (x + pw - ox, y + ph - oy), 1, -1)))
    for _ in range(int(rng.poisson(WIDE_LOOK["pipes"]))):
        x, y0 = int(rng.integers(0, w)), int(rng.integers(0, h // 2)) if rng.random() < 0.5 else 0
        colour, t = _clutter_colour(rng, light=0.4), int(rng.integers(2, 9))
        items.append((colour, (x - t, y0 - t, x + t, h + t),
                      lambda m, ox, oy, x=x, y0=y0, t=t: cv2.line(m, (x - ox, y0 - oy), (x - ox, h - oy), 1, t)))
    for _ in range(int(rng.poisson(WIDE_LOOK["foliage"]))):
        cx, cy = int(rng.choice([0, w])), int(rng.integers(0, h // 3))
        green = np.array([rng.uniform(20, 70), rng.uniform(50, 120), rng.uniform(20, 70)])
        blobs = [((cx + int(rng.normal(0, 30)), cy + int(rng.normal(0, 20))), int(rng.integers(5, 25)))
                 for _ in range(8)]
        box = (min(c[0] - r for c, r in blobs), min(c[1] - r for c, r in blobs),
               max(c[0] + r for c, r in blobs), max(c[1] + r for c, r in blobs))
        items.append((green, box, lambda m, ox, oy, bl=blobs: [cv2.circle(m, (c[0] - ox, c[1] - oy), r, 1, -1)
                                                                for c, r in bl]))
    for colour, (x0, y0, x1, y1), draw in items:
        x0, y0, x1, y1 = max(int(x0) - 1, 0), max(int(y0) - 1, 0), min(int(x1) + 2, w), min(int(y1) + 2, h)
        if x1 <= x0 or y1 <= y0:
            continue
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        draw(mask, x0, y0)
        mask = mask.astype(bool)
        if not (mask & near[y0:y1, x0:x1]).any():
            image[y0:y1, x0:x1][mask] = colour


def _clutter_colour(rng: np.random.Generator, *, light: float, vivid: float = 0.15) -> np.ndarray:
    grey = rng.uniform(130, 235) if rng.random() < light else rng.uniform(10, 90)
    return _tinted(grey, rng, 0.8 if rng.random() < vivid else 0.1)


def post_wide(image: np.ndarray, rng: np.random.Generator, light: dict, *, noise: np.ndarray) -> np.ndarray:
    """Exposure and white balance, haze veil, vignetting, lens and motion blur, sensor noise
    (``noise``: a unit Gaussian (h, w, 3) window; its first channel is the grey part), then the
    camera's tone curve (gamma) and colourfulness, and lower resolution; returns uint8 BGR."""
    h, w = image.shape[:2]
    f32 = np.float32
    gain = light["gain"] * light["tint"]
    image = cv2.multiply(image, (float(gain[0]), float(gain[1]), float(gain[2]), 0.0))
    if light["veil"] > 0:  # stronger towards the top (farther things)
        ramp = np.linspace(light["veil"], 0.3 * light["veil"], h, dtype=f32)[:, None, None]
        image = image * (1 - ramp) + light["veil_air"].astype(f32) * ramp
    if light["vignette"] > 0:
        yy, xx = np.ogrid[-1:1:complex(0, h), -1:1:complex(0, w)]
        image = image * (1 - f32(light["vignette"]) * ((xx * xx + yy * yy) / 2).astype(f32))[:, :, None]
    if light["blur"] > 0.3:
        image = cv2.GaussianBlur(image, (0, 0), light["blur"])
    if light["motion"] > 1:
        k = np.zeros((light["motion"], light["motion"]), np.float32)
        k[light["motion"] // 2, :] = 1
        rot = cv2.getRotationMatrix2D(((light["motion"] - 1) / 2, (light["motion"] - 1) / 2), light["motion_angle"], 1)
        k = cv2.warpAffine(k, rot, k.shape)
        image = cv2.filter2D(image, -1, k / max(float(k.sum()), 1e-6))
    sigma, chroma = f32(light["noise"]), f32(light["chroma_noise"])
    image = image + sigma * ((1 - chroma) * noise[:, :, :1] + chroma * noise)
    out = cv2.convertScaleAbs(image)
    # the camera's tone curve and colour processing, after the sensor
    out = cv2.LUT(out, (255 * (np.arange(256) / 255.0) ** light["gamma"]).round().astype(np.uint8))
    grey = cv2.cvtColor(cv2.cvtColor(out, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    out = cv2.addWeighted(out, light["colourfulness"], grey, 1 - light["colourfulness"], 0)
    if light["lowres"] > 1.0:
        small = cv2.resize(out, (max(1, round(w / light["lowres"])), max(1, round(h / light["lowres"]))),
                           interpolation=cv2.INTER_AREA)
        out = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    return out
