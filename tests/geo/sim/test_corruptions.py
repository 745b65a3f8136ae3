"""The evaluation's corruption set: shapes kept, severity orders the damage, bad names refused."""

import numpy as np
import pytest

from geo.sim.corruptions import CORRUPTIONS, corrupt, corruption_from_spec


@pytest.fixture
def image():
    rng = np.random.default_rng(0)
    img = np.full((96, 128, 3), 120, np.uint8)
    img[30:40, 50:60] = 20  # a small dark object
    return np.clip(img.astype(int) + rng.integers(-5, 6, img.shape), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("kind", CORRUPTIONS)
def test_each_corruption_keeps_the_frame_and_grows_with_severity(image, kind):
    mild = corrupt(image, kind, severity=1, rng=np.random.default_rng(3))
    strong = corrupt(image, kind, severity=5, rng=np.random.default_rng(3))
    assert mild.shape == strong.shape == image.shape and strong.dtype == np.uint8
    err = [np.abs(x.astype(int) - image).mean() for x in (mild, strong)]
    assert 0 < err[0] < err[1]


def test_specs_and_bad_names():
    assert corruption_from_spec("haze") == ("haze", 3)
    assert corruption_from_spec("jpeg:5") == ("jpeg", 5)
    with pytest.raises(ValueError):
        corruption_from_spec("fog:2")
    with pytest.raises(ValueError):
        corrupt(np.zeros((4, 4, 3), np.uint8), "blur", severity=9)
