"""The look test end to end (issue 26): a held-out image folder's reference (look_shift.py
reference, the card's calibration.look), look tables of surveys detected before detect wrote them
(look_shift.py write), and the card check's look_test: the same look passes, a blurred and
JPEG-compressed one is flagged. ``camcensus detect`` writes look.parquet beside the detections."""

import json

import cv2
import numpy as np
import pandas as pd
import pytest

from geo.counting.card_check import look_test, read_look_table
from scripts.validation.look_shift import main
from tests.detector.conftest import tiny_model  # noqa: F401  (the session's tiny trained model)
from tests.detector.test_look import jpeg, scene


def survey(root, name, seeds, *, shifted=False):
    folder = root / name
    (folder / "images").mkdir(parents=True)
    rows = []
    for k in seeds:
        img = scene(k, size=128)
        if shifted:  # the held-out look's kind of change: blur and a low-quality JPEG round trip
            img = jpeg(cv2.GaussianBlur(img, (0, 0), 1.2), 30)
        cv2.imwrite(str(folder / "images" / f"{k}.jpg"), img, [cv2.IMWRITE_JPEG_QUALITY, 90])
        rows.append({"image_id": f"v{k}", "path": f"images/{k}.jpg", "status": "ok"})
    pd.DataFrame(rows).to_parquet(folder / "images.parquet")
    return folder


def test_reference_write_and_test(tmp_path):
    held = survey(tmp_path, "heldout", range(60))
    assert main(["reference", str(held / "images"), "--json", str(tmp_path / "ref.json")]) == 0
    ref = json.loads((tmp_path / "ref.json").read_text())
    assert ref["n_images"] == 60 and "blockiness" in ref["statistics"]
    same = survey(tmp_path, "same", range(100, 140))
    other = survey(tmp_path, "other", range(200, 240), shifted=True)
    assert main(["write", str(same), str(other)]) == 0
    looks = {name: read_look_table(tmp_path / name) for name in ("same", "other")}
    assert set(looks["same"]["image_id"]) == {f"v{k}" for k in range(100, 140)}
    assert look_test(looks["same"], ref)["fits"] is True
    flagged = look_test(looks["other"], ref)
    assert flagged["fits"] is False and flagged["statistics"]["detail"]["z"] < 0  # blurred: less fine detail
    before = (tmp_path / "same" / "look.parquet").stat().st_mtime_ns
    assert main(["write", str(same)]) == 0  # already there: kept
    assert (tmp_path / "same" / "look.parquet").stat().st_mtime_ns == before


@pytest.mark.slow
def test_detect_writes_the_look_table(tiny_model, tmp_path):  # noqa: F811
    from detector.detect import detect_images
    from tests.detector.conftest import TINY_IMGSZ

    folder = survey(tmp_path, "s", range(5))
    detect_images(folder / "images", model=tiny_model, out=tmp_path / "out", imgsz=TINY_IMGSZ, batch=2,
                  progress=False)
    look = read_look_table(tmp_path / "out")
    assert look is not None and len(look) == 5 and np.isfinite(look.drop(columns="image_id").to_numpy()).all()


@pytest.mark.slow
def test_evaluate_update_card_stores_the_look_reference(tiny_model, tmp_path):  # noqa: F811
    from detector.card import read_card
    from detector.evaluate import evaluate_model
    from tests.detector.conftest import TINY_IMGSZ, object_dataset

    data = object_dataset(tmp_path / "data", n_train=1, n_val=8)
    card = tmp_path / "tiny.md"
    evaluate_model(tiny_model, data, card=card, imgsz=TINY_IMGSZ)
    look = read_card(card).calibration["look"]
    assert look["n_images"] == 8 and look["statistics"]["blockiness"]["sd"] >= 0
    from geo.counting.calibration import calibration_from_dict

    assert calibration_from_dict(read_card(card).calibration).extra["look"] == look  # reaches the card check
