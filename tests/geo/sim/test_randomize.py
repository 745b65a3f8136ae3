"""The wider random look (domain randomization version 2, issue 28): the older looks stay bit for
bit, the wider one varies what it claims, its boxes are exactly the drawn housings."""

import hashlib
import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from geo.sim import randomize, render
from geo.sim.render import boxes_for_view, render_view
from tests.geo.sim.test_render import X0, Y0
from tests.geo.sim.test_render_style import _two_camera_scene

# sha256 (first 16 hex) of the image bytes and the boxes, rendered by main before version 2 existed
# (numpy 1.26 / OpenCV 4.x of this venv): "default", "alt" and round 3's "random" must not move.
FROZEN = {
    ("default", 7, 0): "86396ac33b3b2242",
    ("default", 11, 6): "befd9f0f252d351b",
    ("alt", 7, 0): "fef4f771646d912e",
    ("alt", 11, 6): "7dbb6ae3e3953453",
    ("random", 7, 0): "8be95ae9bce8d1c0",
    ("random", 11, 6): "18343da8611676c1",
}


def _digest(image, boxes) -> str:
    return hashlib.sha256(image.tobytes() + boxes.round(4).to_csv(index=False).encode()).hexdigest()[:16]


def test_default_alt_and_round3_random_looks_are_bit_identical():
    scene = _two_camera_scene()
    for (style, seed, pitch), expected in FROZEN.items():
        image, boxes = render_view(scene, x=X0, y=Y0, heading=10, pitch=pitch, width=240, height=180, seed=seed,
                                   style=style)
        assert _digest(image, boxes) == expected, (style, seed, pitch)
    # randomization=1 is the default: the same image
    a = render_view(scene, x=X0, y=Y0, heading=10, width=240, height=180, seed=7, style="random")[0]
    b = render_view(scene, x=X0, y=Y0, heading=10, width=240, height=180, seed=7, style="random", randomization=1)[0]
    assert np.array_equal(a, b)


def test_wide_look_is_deterministic_differs_and_keeps_the_cameras():
    scene = _two_camera_scene()
    view = dict(x=X0, y=Y0, heading=10, width=480, height=360, seed=7)
    base, base_boxes = render_view(scene, **view)
    w1, b1 = render_view(scene, **view, style="random", randomization=2)
    w2, b2 = render_view(scene, **view, style="random", randomization=2)
    assert np.array_equal(w1, w2) and b1.equals(b2)
    v1 = render_view(scene, **view, style="random")[0]
    assert np.abs(w1.astype(int) - v1.astype(int)).mean() > 5  # not round 3's look
    others = [render_view(scene, **{**view, "seed": s}, style="random", randomization=2)[0] for s in (8, 9, 10)]
    assert all(np.abs(w1.astype(int) - im.astype(int)).mean() > 5 for im in others)
    # the same cameras in the same places; a flat mini dome far away may fall under the 3 px floor
    centre = lambda b: np.c_[(b.x1 + b.x2) / 2, (b.y1 + b.y2) / 2]  # noqa: E731
    kept = 0
    for seed in range(7, 12):
        boxes = render_view(scene, **{**view, "seed": seed}, style="random", randomization=2)[1]
        assert set(boxes.camera_id) <= set(base_boxes.camera_id)
        same = base_boxes.set_index("camera_id").loc[boxes.camera_id]
        assert np.abs(centre(boxes) - centre(same)).max() < 6  # other housings, the same place
        kept += len(boxes) == len(base_boxes)
    assert kept >= 2
    boxes = boxes_for_view(scene, x=X0, y=Y0, heading=10, width=480, height=360, style="random", seed=7,
                           randomization=2)
    assert boxes.equals(b1)  # the housings follow the seed, not the drawing


def test_wide_look_never_calls_the_held_out_look(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("the held-out look's code was called")

    monkeypatch.setattr(render, "_lighting_alt", forbidden)
    monkeypatch.setattr(render, "_camera_sprite_alt", forbidden)
    scene = _two_camera_scene()
    for seed in range(4):
        render_view(scene, x=X0, y=Y0, heading=10, width=240, height=180, seed=seed, style="random", randomization=2)
        light = randomize.lighting_wide(np.random.default_rng(seed), sky_blue=render._sky_blue)
        assert "jpeg" not in light and "housing" not in light and light["style"] == "random"
    # housings are lightly tinted at most: none reaches alt's beige or grey-blue (channel ratios 1.26, 1.36)
    ratio = max(max(np.array(c[k]).max() / np.array(c[k]).min() for k in ("shell", "accent"))
                for c in (randomize._housing_colours(np.random.default_rng(s), s % 2 == 0) for s in range(500)))
    alt = min(max(shell) / min(shell) for shell, _ in render._ALT_HOUSINGS[1:])
    assert 1.1 < ratio < 1.24 < alt


def test_bad_randomization_fails_with_one_clear_line():
    scene = _two_camera_scene()
    with pytest.raises(ValueError, match="randomization must be one of"):
        render_view(scene, x=X0, y=Y0, heading=10, width=64, height=64, style="random", randomization=3)
    with pytest.raises(ValueError, match="random look only"):
        render_view(scene, x=X0, y=Y0, heading=10, width=64, height=64, style="alt", randomization=2)


def test_wide_lighting_spans_its_documented_ranges():
    W = randomize.WIDE_LOOK
    lights = [randomize.lighting_wide(np.random.default_rng(s), sky_blue=render._sky_blue) for s in range(300)]
    for key, name in (("gain", "gain"), ("noise", "noise"), ("blur", "blur"), ("asphalt", "asphalt"),
                      ("grime", "grime"), ("shadow", "shadow"), ("gamma", "gamma"), ("haze_m", "haze_m"),
                      ("colourfulness", "colourfulness"), ("sun_elev", "sun_elev_deg")):
        values = np.array([light[key] for light in lights])
        lo, hi = W[name]
        assert values.min() >= lo and values.max() <= hi
        assert values.min() < lo + 0.1 * (hi - lo) and values.max() > hi - 0.1 * (hi - lo)  # spans it
    # wider than round 3's where both have the parameter
    for name in ("gain", "noise", "blur", "asphalt", "grime", "haze_m"):
        assert W[name][0] <= render.RANDOM_LOOK[name][0] and W[name][1] >= render.RANDOM_LOOK[name][1]
    assert {light["sky"] for light in lights} == set(W["sky"])
    for key in ("veil", "vignette", "dapple"):
        share = np.mean([light[key] > 0 for light in lights])
        assert 0.15 < share < 0.6
    assert 0.1 < np.mean([light["motion"] > 0 for light in lights]) < 0.25
    assert 0.1 < np.mean([light["lowres"] > 1 for light in lights]) < 0.3
    assert np.mean([light["facade_shadow"] for light in lights]) > 0.15
    # any-hue facade palettes: the mix turns red walls into every hue
    red = np.array([40.0, 50.0, 170.0])  # BGR
    hues = [math.atan2(*(light["palette"] @ red)[[0, 1]] - (light["palette"] @ red)[2]) for light in lights]
    assert np.ptp(hues) > 4.5


def _stub_row(class_name, camera_id, mount="wall", facing=0.0, color=0):
    return {"camera_id": camera_id, "class_name": class_name, "x": 0.0, "y": 0.0, "facing": facing, "tilt": 20.0,
            "mount": mount, "size_m": 0.25, "arm_m": 0.25, "color": color}


def _bbox(mask):
    ys, xs = np.nonzero(mask > 0.3)
    return xs.min(), ys.min(), xs.max(), ys.max()


def test_wide_housings_box_is_exactly_the_drawn_housing_and_the_shapes_vary():
    view = SimpleNamespace(x=0.0, y=-6.0)  # the eye 6 m south of the camera
    kinds, aspects, greys = set(), [], []
    for n in range(160):
        look = {"shape_seed": 1000 + n}
        cls = "dome" if n % 2 else "directed"
        row = _stub_row(cls, f"c{n}", mount=("wall", "ceiling", "pole")[n % 3], facing=(n * 37) % 360,
                        color=int(n % 5 == 0))
        x0, y0, rgb, alpha, body = randomize.camera_sprite_wide(row, view, 100.0, 100.0, 160.0, look=look,
                                                                pen_cls=render._Pen)
        assert _bbox(alpha) == _bbox(body), n  # the box (body) covers exactly what is drawn (alpha)
        x1, y1, x2, y2 = _bbox(body)
        aspects.append((x2 - x1 + 1) / (y2 - y1 + 1))
        seen = alpha > 0.5
        greys.append(float((rgb[seen] / alpha[seen][:, None]).mean()))
        kinds.add(randomize.housing_kind(row["camera_id"], cls, look))
    assert kinds == {k for k, _ in randomize.WIDE_LOOK["dome_kinds"] + randomize.WIDE_LOOK["directed_kinds"]}
    assert np.ptp(np.log(aspects)) > 1.2  # from tall pendants to long bullets
    assert min(greys) < 60 and max(greys) > 150


def test_wide_housings_are_wider_than_round_3s():
    """Round 3's housings (one shape per class, one grey per view) against the wider look's."""
    view = SimpleNamespace(x=0.0, y=-6.0)
    spread = {}
    for version in (1, 2):
        aspects = []
        for n in range(60):
            row = _stub_row("directed" if n % 2 else "dome", f"c{n}", facing=(n * 53) % 360)
            if version == 1:
                light = render._lighting_random(np.random.default_rng(n))
                sprite = render._camera_sprite(row, view, 100.0, 100.0, 160.0, look=light)
            else:
                sprite = randomize.camera_sprite_wide(row, view, 100.0, 100.0, 160.0, look={"shape_seed": n},
                                                      pen_cls=render._Pen)
            x1, y1, x2, y2 = _bbox(sprite[4])
            aspects.append((x2 - x1 + 1) / (y2 - y1 + 1))
        spread[version] = np.std(np.log(aspects))
    assert spread[2] > 1.2 * spread[1]


def test_facade_texture_draws_joints_near_and_fades_far():
    z = np.linspace(0, 10, 400, dtype=np.float32)[:, None] * np.ones((1, 6), np.float32)
    material = np.zeros(z.shape, np.uint8)
    look = {"pattern_seed": 0, "course_m": 0.5, "panel_m": 2.0, "stripe_m": 0.3, "pattern_depth": 0.2,
            "facade_shadow": False}
    building = np.arange(6)
    along = np.linspace(0, 5, 6)
    top, lit = np.full(6, 12.0), np.ones(6)
    near = randomize.facade_multiplier(material, z, along, np.full(6, 0.01, np.float32), building, top, lit, look)
    far = randomize.facade_multiplier(material, z, along, np.full(6, 2.0, np.float32), building, top, lit, look)
    assert near.min() < 0.85 and np.allclose(far, 1.0)  # joints where a period spans >= 5 px, none below 2 px
    windows = randomize.facade_multiplier(material + 4, z, along, np.full(6, 0.01, np.float32), building, top, lit,
                                          look)
    assert np.allclose(windows, 1.0)  # textures are on plain wall only
    shadowed = randomize.facade_multiplier(material + 4, z, along, np.full(6, 0.01, np.float32), building, top, lit,
                                           {**look, "facade_shadow": True, "facade_shadow_h": 0.5,
                                            "facade_shadow_slope": 0.0, "facade_shadow_dark": 0.6})
    assert np.allclose(shadowed[z[:, 0] < 5.9], 0.6) and np.allclose(shadowed[z[:, 0] > 6.1], 1.0)


def test_wide_clutter_keeps_off_camera_boxes():
    image = np.full((120, 160, 3), 200.0, np.float32)
    boxes = pd.DataFrame({"camera_id": ["a"], "class_name": ["dome"], "x1": [40.0], "y1": [10.0],
                          "x2": [120.0], "y2": [60.0]})
    painted = 0
    for seed in range(20):
        im = image.copy()
        randomize.clutter_wide(im, boxes, np.random.default_rng(seed))
        assert (im[7:63, 37:123] == 200).all()  # nothing within 3 px of the box
        painted += int((im != 200).any())
    assert painted > 10
