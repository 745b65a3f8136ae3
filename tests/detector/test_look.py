"""Per-image look statistics (detector.look, issue 26): each responds to the change it is named
for (blur, noise, JPEG blocking, colour cast, haze, lower resolution) on small generated scenes;
the survey's look table is a fixed sample that resumes; the reference has the card's format."""

import cv2
import numpy as np
import pyarrow.parquet as pq
import pandas as pd
import pytest

from detector.look import (LOOK_COLUMNS, LOOK_FILE, _grouped_quantile, look_features, look_reference, look_sample,
                           look_table, write_survey_look)
from detector.schemas import LOOK, check_schema


def scene(seed: int, size: int = 256) -> np.ndarray:
    """A street-like BGR image: a sky band, facades with windows, a road, mild noise, JPEG 90."""
    rng = np.random.default_rng(seed)
    img = np.zeros((size, size, 3), np.float32)
    img[: size // 3] = rng.uniform(170, 230, 3)
    for x0 in range(0, size, size // 4):
        img[size // 3: 3 * size // 4, x0: x0 + size // 4] = rng.uniform(60, 200, 3)
        for y in range(size // 3 + 8, 3 * size // 4 - 12, 20):
            for x in range(x0 + 6, x0 + size // 4 - 12, 18):
                img[y: y + 10, x: x + 8] = rng.uniform(20, 80)
    img[3 * size // 4:] = rng.uniform(70, 110)
    img += rng.normal(0, 3.0, img.shape)
    return jpeg(np.clip(img, 0, 255).astype(np.uint8), 90)


def jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    return cv2.imdecode(cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])[1], cv2.IMREAD_COLOR)


def test_features_and_units():
    f = look_features(scene(0))
    assert list(f) == list(LOOK_COLUMNS)
    assert all(np.isfinite(v) for v in f.values())
    assert 0.0 <= f["detail"] <= 1.0 and 0 <= f["haze"] <= 255 and 0 < f["brightness"] < 255
    grey = look_features(cv2.cvtColor(cv2.cvtColor(scene(0), cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR))
    assert grey["saturation"] == pytest.approx(0.0, abs=1e-6) and grey["cast_rb"] == pytest.approx(0.0, abs=1e-6)


def test_each_statistic_responds_to_its_change():
    for seed in (1, 2, 3):
        img = scene(seed)
        base = look_features(img)
        blurred = look_features(cv2.GaussianBlur(img, (0, 0), 2.0))
        assert blurred["detail"] < base["detail"] - 0.1 and blurred["sharpness"] < base["sharpness"]
        small = cv2.resize(cv2.resize(img, (85, 85), interpolation=cv2.INTER_AREA), (256, 256))
        assert look_features(small)["detail"] < base["detail"] - 0.1
        noisy = np.clip(img + np.random.default_rng(seed).normal(0, 15, img.shape), 0, 255).astype(np.uint8)
        assert look_features(noisy)["noise"] > base["noise"] + 5
        assert look_features(jpeg(img, 15))["blockiness"] > base["blockiness"] + 0.3
        warm = np.clip(img * np.array([0.8, 1.0, 1.25], np.float32), 0, 255).astype(np.uint8)  # B, G, R gains
        assert look_features(warm)["cast_rb"] > base["cast_rb"] + 0.3
        hazy = (0.5 * img + 0.5 * np.array([215, 212, 205], np.float32)).astype(np.uint8)
        hz = look_features(hazy)
        assert hz["haze"] > base["haze"] + 30 and hz["contrast"] < base["contrast"]


def test_grouped_quantile_is_continuous_and_close_to_the_median():
    rng = np.random.default_rng(0)
    v = np.abs(rng.normal(0, 3, 100_000))
    assert _grouped_quantile(v, 0.5) == pytest.approx(np.median(v), abs=0.02)
    assert _grouped_quantile(v, 0.9) == pytest.approx(np.quantile(v, 0.9), abs=0.02)
    # integer data: bins centred on the integers, so the median moves smoothly with the counts
    a = _grouped_quantile(np.array([0] * 50 + [1] * 50 + [2] * 10), 0.5, step=1.0, offset=0.5)
    b = _grouped_quantile(np.array([0] * 40 + [1] * 60 + [2] * 10), 0.5, step=1.0, offset=0.5)
    assert 0.4 < a < b < 1.5


def test_survey_look_is_a_fixed_sample_that_resumes(tmp_path):
    paths = []
    for k in range(6):
        path = tmp_path / "images" / f"v{k}.jpg"
        path.parent.mkdir(exist_ok=True)
        cv2.imwrite(str(path), scene(k, size=128))
        paths.append(str(path))
    (tmp_path / "images" / "broken.jpg").write_bytes(b"no image")
    images = pd.DataFrame({"image_id": [f"v{k}" for k in range(6)] + ["broken"],
                           "path": paths + [str(tmp_path / "images" / "broken.jpg")]})
    four = look_sample(images["image_id"], max_images=4)
    assert len(four) == 4 and set(four) <= set(look_sample(images["image_id"], max_images=5))
    path = write_survey_look(tmp_path, images, max_images=4)
    assert path == tmp_path / LOOK_FILE
    first = pd.read_parquet(path)
    assert list(first.columns) == ["image_id", *LOOK_COLUMNS] and set(first["image_id"]) <= set(four)
    check_schema(pq.read_schema(path), LOOK, what="look.parquet")  # the data contract (detector.schemas)
    write_survey_look(tmp_path, images, max_images=10, workers=2)  # grows: the unreadable image is left out
    table = pd.read_parquet(path).set_index("image_id")
    assert set(table.index) == {f"v{k}" for k in range(6)}
    pd.testing.assert_frame_equal(table.loc[first["image_id"]].reset_index(), first)


def test_reference_has_the_cards_format():
    t = look_table([], image_ids=[])
    assert list(t.columns) == ["image_id", *LOOK_COLUMNS] and len(t) == 0
    rows = pd.DataFrame([look_features(scene(k, size=128)) for k in range(12)])
    ref = look_reference(rows, source="test")
    assert ref["n_images"] == 12 and set(ref["statistics"]) == set(LOOK_COLUMNS)
    for s in ref["statistics"].values():
        assert s["q005"] <= s["median"] <= s["q995"] and s["sd"] >= 0
        assert all(isinstance(v, float) for v in s.values())  # JSON / YAML-able for the card
