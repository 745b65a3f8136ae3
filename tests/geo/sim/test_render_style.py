"""The held-out rendering style (issue 21): different look, same scene, deterministic."""

import numpy as np
import pytest

from geo.sim.render import STYLES, boxes_for_view, render_view
from tests.geo.sim.test_render import X0, Y0, _scene


def _two_camera_scene():
    return _scene(
        buildings=[((-20, 5, -8, 40), 15.0), ((8, 5, 20, 30), 9.0)],
        cameras=[("a", "dome", -7.5, 14.0, 4.0), ("b", "directed", 7.5, 8.0, 5.0)],
        size=0.3,
    )


def test_alt_style_renders_differently_and_deterministically():
    scene = _two_camera_scene()
    view = dict(x=X0, y=Y0, heading=10, width=480, height=360, seed=7)
    base, base_boxes = render_view(scene, **view)
    alt1, alt_boxes = render_view(scene, **view, style="alt")
    alt2, alt_boxes2 = render_view(scene, **view, style="alt")
    assert "alt" in STYLES and alt1.shape == base.shape and alt1.dtype == np.uint8
    assert np.array_equal(alt1, alt2) and alt_boxes.equals(alt_boxes2)
    # a different look: the mean colour moves and most pixels change
    assert np.abs(alt1.astype(int) - base.astype(int)).mean() > 10
    assert not np.array_equal(alt1, render_view(scene, **{**view, "seed": 8}, style="alt")[0])
    # the same cameras in about the same places (housings differ a little)
    assert list(alt_boxes.camera_id) == list(base_boxes.camera_id)
    centre = lambda b: np.c_[(b.x1 + b.x2) / 2, (b.y1 + b.y2) / 2]  # noqa: E731
    assert np.abs(centre(alt_boxes) - centre(base_boxes)).max() < 4
    assert boxes_for_view(scene, x=X0, y=Y0, heading=10, width=480, height=360, style="alt").equals(alt_boxes)


def test_default_style_is_the_untouched_default_and_unknown_styles_fail():
    scene = _two_camera_scene()
    a, _ = render_view(scene, x=X0, y=Y0, heading=10, width=320, height=240, seed=3)
    b, _ = render_view(scene, x=X0, y=Y0, heading=10, width=320, height=240, seed=3, style="default")
    assert np.array_equal(a, b)
    with pytest.raises(ValueError, match="style"):
        render_view(scene, x=X0, y=Y0, heading=10, width=320, height=240, seed=3, style="neon")


def test_simulated_survey_renders_in_the_alt_style(tmp_path):
    from geo.errors import GeoInputError
    from geo.sim.survey import simulate_survey
    from geo.streets.network import graph_from_area
    from geo.streets.sampling import views_from_graph
    from tests.geo.sim.test_survey import make_survey

    import cv2

    graph = graph_from_area("demo")
    _, views = views_from_graph(graph, spacing=40, seed=0)
    views = views.iloc[:3].reset_index(drop=True)
    looks = {}
    for style in ("default", "alt"):
        survey = make_survey(tmp_path / style, views, graph)
        table = simulate_survey(survey, width=96, height=96, workers=1, progress=False, style=style)
        assert (table.status == "ok").all()
        looks[style] = np.stack([cv2.imread(str(survey / p)) for p in table.path]).astype(int)
    assert np.abs(looks["alt"] - looks["default"]).mean() > 10
    with pytest.raises(GeoInputError, match="style"):
        simulate_survey(make_survey(tmp_path / "bad", views, graph), workers=1, progress=False, style="neon")


def test_random_look_draws_per_view_from_its_ranges_and_never_is_alt():
    """The training look randomization (issue 28): deterministic per seed, different per seed,
    the same cameras, documented ranges, and none of the held-out look's code or parameters."""
    from geo.sim import render

    scene = _two_camera_scene()
    view = dict(x=X0, y=Y0, heading=10, width=480, height=360, seed=7)
    base, base_boxes = render_view(scene, **view)
    r1, b1 = render_view(scene, **view, style="random")
    r2, b2 = render_view(scene, **view, style="random")
    assert "random" in STYLES and "random" in render.TRAINING_STYLES and "alt" not in render.TRAINING_STYLES
    assert np.array_equal(r1, r2) and b1.equals(b2)
    looks = [render_view(scene, **{**view, "seed": s}, style="random")[0] for s in (8, 9, 10)]
    assert all(np.abs(r1.astype(int) - im.astype(int)).mean() > 5 for im in looks)
    assert list(b1.camera_id) == list(base_boxes.camera_id)
    centre = lambda b: np.c_[(b.x1 + b.x2) / 2, (b.y1 + b.y2) / 2]  # noqa: E731
    assert np.abs(centre(b1) - centre(base_boxes)).max() < 4
    assert boxes_for_view(scene, x=X0, y=Y0, heading=10, width=480, height=360, style="random", seed=7).equals(b1)
    # the parameters come from RANDOM_LOOK's ranges, and none is one of alt's own
    for seed in range(40):
        light = render._lighting_random(np.random.default_rng(seed))
        assert light["style"] == "random" and "jpeg" not in light and "housing" not in light
        for key, name in (("gain", "gain"), ("noise", "noise"), ("blur", "blur"), ("asphalt", "asphalt"),
                          ("grime", "grime"), ("shadow", "shadow"), ("dome_aspect", "dome_aspect")):
            lo, hi = render.RANDOM_LOOK[name]
            assert lo <= light[key] <= hi
        lo, hi = render.RANDOM_LOOK["shell_grey"]
        t_lo, t_hi = render.RANDOM_LOOK["shell_tint"]
        assert lo * t_lo <= light["shell"].min() and light["shell"].max() <= hi * t_hi
        # near-neutral housings: channels within 10% of each other (alt's beige/grey-blue are not)
        assert light["shell"].max() / light["shell"].min() < 1.11
    for shell, _ in render._ALT_HOUSINGS[1:]:
        assert max(shell) / min(shell) > 1.2


def test_random_look_clutter_keeps_off_camera_boxes():
    from geo.sim import render
    import pandas as pd

    image = np.full((120, 160, 3), 200.0, np.float32)
    boxes = pd.DataFrame({"camera_id": ["a"], "class_name": ["dome"], "x1": [40.0], "y1": [10.0],
                          "x2": [120.0], "y2": [60.0]})
    painted = False
    for seed in range(20):
        im = image.copy()
        render._clutter(im, boxes, {"style": "random"}, np.random.default_rng(seed))
        assert (im[10:60, 40:120] == 200).all()
        painted |= bool((im != 200).any())
    assert painted
