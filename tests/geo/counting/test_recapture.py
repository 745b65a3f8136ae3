"""Recall from the survey itself (geo.counting.recapture): simulated capture histories with a
known level recover it; thin data give a wide interval that still covers; the fit becomes a
Calibration the estimator consumes."""

import numpy as np
import pytest

from geo.counting.calibration import calibration_from_dict
from geo.counting.inclusion import ViewPairs
from geo.counting.recapture import (CaptureHistories, calibration_from_fit, fit_level, shifted_rates,
                                    simulated_histories)

CARD = {"source": "card", "conf_threshold": 0.5,
        "precision_bins": {"edges": [0.5, 0.7, 1.0], "n": [50, 100], "real": [40, 95]},
        "recall_bins": {"edges_px": [0, 6, 8, 12, 16, 24, 32, 64, 100000],
                        "n": [80, 40, 60, 60, 60, 30, 20, 10], "found": [2, 6, 30, 45, 55, 29, 20, 10]},
        "n_images": 500}


def card():
    return calibration_from_dict(CARD)


def synthetic_pairs(n_cameras: int, *, views_per_camera: tuple[int, int], seed: int) -> tuple[np.ndarray, ViewPairs]:
    """Cameras with 1..k candidate views at 4-30 m (box 0.46 m x 320 px / range)."""
    rng = np.random.default_rng(seed)
    k = rng.integers(views_per_camera[0], views_per_camera[1] + 1, n_cameras)
    cam = np.repeat(np.arange(n_cameras), k)
    rng_m = rng.uniform(4.0, 30.0, len(cam))
    pairs = ViewPairs(cam=cam, shift=np.zeros(len(cam), np.int64), scale=320.0 / rng_m, n_cameras=n_cameras,
                      n_shifts=1, range_m=rng_m, view=np.arange(len(cam)), factor=np.ones(len(cam)))
    return np.array(["directed"] * n_cameras), pairs


@pytest.mark.parametrize("level", [0.0, -2.0])
def test_known_level_is_recovered(level):
    cls, pairs = synthetic_pairs(1500, views_per_camera=(2, 6), seed=1)
    h = simulated_histories(cls, pairs, cal=card(), level=level, seed=2)
    assert h.n_cameras > 200 and (h.n_found() >= 2).sum() > 20
    fit = fit_level(h, card())
    assert fit.level_lo - 0.1 <= level <= fit.level_hi + 0.1  # one draw: its 95% interval, give or take a grid step
    assert abs(fit.level - level) < 0.4
    assert fit.informative
    if level == 0.0:
        assert fit.lr_p > 0.01
        assert fit.recall_ratio_lo < 1.0 < fit.recall_ratio_hi + 0.02
    else:
        assert fit.lr_p < 1e-3
        assert fit.recall_ratio_hi < 0.75


def test_single_views_give_a_wide_interval_that_covers():
    cls, pairs = synthetic_pairs(400, views_per_camera=(1, 1), seed=3)
    h = simulated_histories(cls, pairs, cal=card(), level=-1.5, seed=4)
    fit = fit_level(h, card())
    assert not fit.informative
    assert fit.n_repeat == 0
    assert fit.level_lo <= -1.5 <= fit.level_hi
    assert fit.recall_ratio_hi / fit.recall_ratio_lo > 3.5  # the prior's width: the data say nothing


def test_p_real_weights_discount_false_single_view_cameras():
    cls, pairs = synthetic_pairs(1500, views_per_camera=(2, 6), seed=5)
    h = simulated_histories(cls, pairs, cal=card(), level=0.0, seed=6)
    # add 150 false cameras: a false box in one of the 3 views that could show its place
    n_false = 150
    fcam = h.n_cameras + np.repeat(np.arange(n_false), 3)
    fake = CaptureHistories(np.concatenate([h.cam, fcam]),
                            np.concatenate([h.size_px, np.full(3 * n_false, 14.0)]),
                            np.concatenate([h.other, np.ones(3 * n_false)]),
                            np.concatenate([h.detected, np.tile([True, False, False], n_false)]),
                            np.ones(h.n_cameras + n_false), h.n_cameras + n_false)
    naive = fit_level(fake, card())
    weighted = fit_level(CaptureHistories(fake.cam, fake.size_px, fake.other, fake.detected,
                                          np.concatenate([np.ones(h.n_cameras), np.zeros(n_false)]),
                                          fake.n_cameras), card())
    assert naive.level < weighted.level - 0.2
    assert weighted.level_lo <= 0.0 <= weighted.level_hi


def test_fit_becomes_a_calibration_with_the_fitted_recall():
    cls, pairs = synthetic_pairs(1500, views_per_camera=(2, 6), seed=7)
    cal = card()
    h = simulated_histories(cls, pairs, cal=cal, level=-2.0, seed=8)
    fit = fit_level(h, cal)
    own = calibration_from_fit(cal, fit, h)
    assert own.source == "survey"
    expected = shifted_rates(cal.recall_bins(), -2.0)
    got = own.recall_bins()
    big = cal.size_edges[:-1] >= 12
    assert np.all(np.abs(got[big] - expected[big]) < 0.15)
    assert np.all(got[big] < cal.recall_bins()[big])
    # the precision side stays the card's
    assert np.allclose(own.precision_bins(), cal.precision_bins())
    a, b = own.recall_beta()
    assert np.all(a > 0) and np.all(b > 0)


def test_plan_says_denser_spacings_measure_recall_better():
    import geopandas as gpd
    from shapely.geometry import LineString

    from geo.counting.planning import plan_area_from_frames
    from geo.counting.planning import self_calibration_for_plan

    rng = np.random.default_rng(3)
    streets = gpd.GeoDataFrame({"street_id": np.arange(8)},
                               geometry=[LineString([(0, 300.0 * i), (2000, 300.0 * i)]) for i in range(8)],
                               crs="EPSG:32635")
    n = 160  # 10 per km
    x = rng.uniform(0, 2000, n)
    y = 300.0 * rng.integers(0, 8, n) + rng.choice([-1, 1], n) * rng.uniform(4, 9, n)
    area = plan_area_from_frames(streets, np.column_stack([x, y]), np.array(["directed"] * n))
    rows = self_calibration_for_plan(area, calibration=card(), cameras_per_km=10.0, spacings=(5.0, 20.0), n_reps=2)
    by = {r["spacing_m"]: r for r in rows}
    assert by[5.0]["repeat_share"] > by[20.0]["repeat_share"]
    assert by[5.0]["width_factor"] < by[20.0]["width_factor"]
    assert by[5.0]["self_calibrates"]


def test_prior_only_says_recall_is_unknown_below_the_card():
    from geo.counting.recapture import prior_only

    cls, pairs = synthetic_pairs(300, views_per_camera=(1, 2), seed=11)
    fit = fit_level(simulated_histories(cls, pairs, cal=card(), level=-3.0, seed=12), card())
    unknown = prior_only(fit)
    assert not unknown.informative
    assert unknown.level_hi <= 0.0 and unknown.level_lo < -5.0
    assert unknown.recall_ratio_lo < 0.2 and 0.9 < unknown.recall_ratio_hi <= 1.0 + 1e-6
    own = calibration_from_fit(card(), unknown)
    assert np.all(own.recall_bins() <= card().recall_bins() + 1e-6)  # never above the card's


def test_a_large_survey_fits_its_level_on_a_sample_of_cameras(monkeypatch):
    import geo.counting.recapture as recapture

    cls, pairs = synthetic_pairs(1500, views_per_camera=(2, 6), seed=21)
    h = simulated_histories(cls, pairs, cal=card(), level=-1.0, seed=22)
    full = fit_level(h, card())
    cap = int(0.7 * h.n_cameras)
    sub, scale = recapture.subsampled(h, max_cameras=cap)
    assert sub.n_cameras == cap and np.isclose(scale, recapture.usable(h).sum() / cap)
    monkeypatch.setattr(recapture, "MAX_FIT_CAMERAS", cap)
    fast = recapture.fit_level(h, card())
    assert abs(fast.level - full.level) < 0.3
    # the posterior keeps the width of all cameras' likelihood, not of the sample's
    assert (fast.level_hi - fast.level_lo) < 1.5 * (full.level_hi - full.level_lo)


def test_a_camera_placed_on_a_facade_is_not_a_candidate_of_views_along_its_wall():
    """The locator's facade placement puts a camera on the building outline, where the wall's
    normal is undefined: without moving it off the wall, a view looking along the facade (grazing)
    counts as a candidate; moved 0.3 m towards the view that saw it, only the views in front of
    the wall remain (the demo survey's false alarm of the card check, issue 26)."""
    import geopandas as gpd
    import pandas as pd
    import shapely
    from pyproj import Transformer

    from geo.counting.recapture import histories_from_tables, off_wall

    crs = "EPSG:32635"
    x0, y0 = 380_000.0, 6_660_000.0
    building = gpd.GeoDataFrame(geometry=[shapely.box(x0, y0, x0 + 20.0, y0 + 20.0)], crs=crs)
    cam_xy = np.array([[x0 + 10.0, y0]])  # on the south wall
    # the detecting view in front of the wall (looking north), one looking along the wall (east)
    eyes = np.array([[x0 + 10.0, y0 - 10.0], [x0 - 12.0, y0 - 1.0]])
    to_lonlat = Transformer.from_crs(crs, 4326, always_xy=True)
    lon, lat = to_lonlat.transform(eyes[:, 0], eyes[:, 1])
    images = pd.DataFrame({"image_id": ["front", "along"], "lon": lon, "lat": lat, "heading": [0.0, 90.0],
                           "fov": 90.0, "width": 640, "height": 640, "pitch": 0.0, "status": "ok"})
    clon, clat = to_lonlat.transform(cam_xy[:, 0], cam_xy[:, 1])
    cameras = pd.DataFrame({"lon": clon, "lat": clat, "class_name": ["directed"], "image_ids": [["front"]],
                            "n_detections": [1], "conf_max": [0.9]})
    moved = off_wall(cam_xy, eyes[:1], building)
    assert moved[0, 1] == pytest.approx(y0 - 0.3) and moved[0, 0] == pytest.approx(x0 + 10.0)
    h = histories_from_tables(cameras, images, crs=crs, buildings=building)
    assert h.n_candidates()[0] == 1 and h.detected.all()  # the view along the wall is gone
    h_none = histories_from_tables(cameras, images, crs=crs)  # no buildings: both views are candidates
    assert h_none.n_candidates()[0] == 2


def test_a_single_view_camera_placed_by_box_size_keeps_its_located_position():
    """The sight-line averaging of size-placed single-view cameras was measured worse (issue 26,
    docs/unseen-imagery.md) and removed: such a camera has one capture history, at its located
    position, with its detecting view, and there is no switch left to turn it back on."""
    import pandas as pd
    from pyproj import Transformer

    import geo.counting.recapture as recapture
    from geo.counting.recapture import histories_from_tables

    crs = "EPSG:32635"
    x0, y0 = 380_000.0, 6_660_000.0
    to_lonlat = Transformer.from_crs(crs, 4326, always_xy=True)
    eyes = np.array([[x0, y0], [x0, y0 + 10.0]])
    lon, lat = to_lonlat.transform(eyes[:, 0], eyes[:, 1])
    images = pd.DataFrame({"image_id": ["a", "b"], "lon": lon, "lat": lat, "heading": [90.0, 90.0],
                           "fov": 90.0, "width": 640, "height": 640, "pitch": 0.0, "status": "ok"})
    clon, clat = to_lonlat.transform([x0 + 12.0], [y0])
    cameras = pd.DataFrame({"lon": clon, "lat": clat, "class_name": ["directed"], "image_ids": [["a"]],
                            "n_detections": [1], "conf_max": [0.9], "method": ["size"]})
    h = histories_from_tables(cameras, images, crs=crs)
    assert h.n_cameras == 1 and h.weight.tolist() == [1.0]
    assert h.n_found().tolist() == [1] and h.n_candidates()[0] == 2  # view a saw it, view b could have
    assert not hasattr(recapture, "SIGHT_LINE_SPREAD") and not hasattr(recapture, "along_sight_line")


def test_a_wider_prior_lets_thin_data_move_the_level_further_from_the_card():
    """with_prior recomputes the posterior from the fit's likelihood: the card's own prior SD gives
    the fit back; a wider one moves a level the data put far below the card further down (thin
    data: the prior's pull towards the card weakens) and widens the interval."""
    from geo.counting.recapture import PRIOR_SD, with_prior

    cls, pairs = synthetic_pairs(120, views_per_camera=(2, 4), seed=3)
    h = simulated_histories(cls, pairs, cal=card(), level=-4.0, seed=4)
    fit = fit_level(h, card())
    same = with_prior(fit, PRIOR_SD)
    assert same.level == pytest.approx(fit.level) and same.recall_ratio == pytest.approx(fit.recall_ratio)
    wide = with_prior(fit, 4.0)
    assert wide.level < fit.level and wide.recall_ratio < fit.recall_ratio
    assert wide.level_lo < fit.level_lo and wide.prior_sd == 4.0
    assert "N(0, 4^2)" in wide.to_dict()["prior"]


def test_the_estimators_recall_is_the_chosen_centre_of_the_fit():
    """calibration_from_fit hands over per-camera Betas: the estimator's posterior mean per bin is
    the posterior's harmonic mean (or median) of the rate, not pulled towards the pooled rate by a
    design effect (the card has 2 boxes per camera)."""
    from geo.counting.recapture import prior_only

    cls, pairs = synthetic_pairs(300, views_per_camera=(1, 2), seed=11)
    cal = card()
    assert cal.boxes_per_camera > 1.0  # a card without camera counts: its boxes are not cameras
    unknown = prior_only(fit_level(simulated_histories(cls, pairs, cal=cal, level=-3.0, seed=12), cal))
    rates = shifted_rates(cal.recall_bins(), unknown.grid)
    harmonic = 1.0 / (unknown.posterior @ (1.0 / np.maximum(rates, 1e-4)))
    cdf = np.cumsum(unknown.posterior) - unknown.posterior / 2
    median = shifted_rates(cal.recall_bins(), float(np.interp(0.5, cdf, unknown.grid)))
    got_h = calibration_from_fit(cal, unknown, centre="harmonic")
    got_m = calibration_from_fit(cal, unknown, centre="median")
    assert got_h.boxes_per_camera == 1.0
    big = cal.size_edges[:-1] >= 12
    np.testing.assert_allclose(got_h.recall_bins()[big], harmonic[big], rtol=0.01)
    np.testing.assert_allclose(got_m.recall_bins()[big], median[big], rtol=0.01)
    # over a wide posterior the harmonic mean sits far below the median: a count about 1.4x higher
    assert np.all(got_m.recall_bins()[big] > 1.3 * got_h.recall_bins()[big])


def test_a_calibration_at_one_level_moves_every_bin_by_it_and_keeps_the_cards_spread():
    from geo.counting.recapture import calibration_at_level

    cal = card()
    at0, low = calibration_at_level(cal, 0.0), calibration_at_level(cal, -3.0)
    big = cal.size_edges[:-1] >= 12
    np.testing.assert_allclose(at0.recall_bins()[big], shifted_rates(cal.recall_bins(), 0.0)[big], rtol=0.01)
    np.testing.assert_allclose(low.recall_bins()[big], shifted_rates(cal.recall_bins(), -3.0)[big], rtol=0.01)
    assert np.all(low.recall_bins()[big] < 0.7 * at0.recall_bins()[big])  # damped by the camera effect
    assert at0.source == low.source == "survey" and low.extra["self_level_logit"] == -3.0
    # the card's own concentration per bin (a + b), not a point mass and not the level's spread
    a, b = cal.recall_beta()
    a0, b0 = at0.recall_beta()
    kept = big & (a + b > 15)  # a tiny bin's Beta is held up by the estimator's pseudo-counts (beta_counts)
    np.testing.assert_allclose((a0 + b0)[kept], (a + b)[kept], rtol=0.1)
    assert kept.sum() >= 3
