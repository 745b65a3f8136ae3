"""Batch detection with a really trained tiny model: boxes land on the drawn objects, bad files
are reported without stopping the batch, surveys are read and reruns skip finished work."""

import json

import cv2
import numpy as np
import pandas as pd
import pytest

from detector.detect import ProgressReporter, detect_images
from detector.engine import FAILURES_FILE, SUMMARY_FILE, letterbox, read_detections
from detector.errors import DetectorInputError
from tests.detector.conftest import TINY_IMGSZ, DrawnObject, object_image

# (file name, width, height, object): non-square, upscaled, a large JPEG (draft decoding), a PNG
KNOWN = [
    ("a.jpg", 256, 192, DrawnObject(0, 70, 100, 56)),
    ("b.png", 128, 128, DrawnObject(1, 80, 40, 40)),
    ("sub/c.jpg", 200, 300, DrawnObject(1, 100, 220, 64)),
    ("sub/deep/d.jpg", 640, 480, DrawnObject(0, 400, 160, 150)),
]


def write_known(folder):
    for name, width, height, obj in KNOWN:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), object_image(width, height, [obj]))
    return folder


def test_detections_land_on_the_drawn_objects_in_original_pixels(tiny_model, tmp_path):
    images = write_known(tmp_path / "images")
    summary = detect_images(
        images, model=tiny_model, out=tmp_path / "out", batch=3, imgsz=TINY_IMGSZ, progress=False
    )
    rows = read_detections(tmp_path / "out")
    assert summary["images"] == summary["ok"] == 4 and summary["failed"] == 0
    assert summary["detections"] == len(rows) and summary["device"] == "cpu"
    assert list(rows.columns) == [
        "image_id",
        "x1",
        "y1",
        "x2",
        "y2",
        "conf",
        "class_id",
        "class_name",
        "model_id",
    ]
    for name, width, height, obj in KNOWN:
        mine = rows[rows["image_id"] == name].sort_values("conf", ascending=False)
        assert len(mine) >= 1, name
        best = mine.iloc[0]
        x1, y1, x2, y2 = obj.xyxy
        tol = 0.15 * obj.side
        assert abs(best.x1 - x1) < tol and abs(best.x2 - x2) < tol, (name, best.to_dict())
        assert abs(best.y1 - y1) < tol and abs(best.y2 - y2) < tol, (name, best.to_dict())
        assert (
            best.class_id == obj.class_id and best.class_name == ["dome", "directed"][obj.class_id]
        )
        assert best.model_id == "tiny" and best.conf >= 0.25
        assert 0 <= best.x1 < best.x2 <= width and 0 <= best.y1 < best.y2 <= height


def test_bad_files_are_reported_and_the_batch_goes_on(tiny_model, tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    good = object_image(160, 160, [DrawnObject(0, 80, 80, 50)])
    cv2.imwrite(str(folder / "good.jpg"), good)
    cv2.imwrite(str(folder / "large.png"), object_image(300, 300, []))
    (folder / "zero.jpg").write_bytes(b"")
    (folder / "text.jpg").write_text("this is not an image\n")
    jpeg = cv2.imencode(".jpg", good)[1].tobytes()
    (folder / "truncated.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    png = cv2.imencode(".png", good)[1].tobytes()
    (folder / "broken.png").write_bytes(png[:100] + bytes(200) + png[300:])
    listing = tmp_path / "list.txt"
    names = [
        "good.jpg",
        "large.png",
        "zero.jpg",
        "text.jpg",
        "truncated.jpg",
        "broken.png",
        "missing.jpg",
    ]
    listing.write_text("# images\n" + "".join(f"images/{n}\n" for n in names))

    summary = detect_images(
        listing,
        model=tiny_model,
        out=tmp_path / "out",
        batch=2,
        imgsz=TINY_IMGSZ,
        max_pixels=200 * 200,
        progress=False,
    )
    assert summary["images"] == 7 and summary["ok"] == 1 and summary["failed"] == 6
    errors = {f["image_id"]: f["error"] for f in summary["failures"]}
    assert "0 bytes" in errors["images/zero.jpg"]
    assert "not an image" in errors["images/text.jpg"]
    assert "truncated" in errors["images/truncated.jpg"]
    assert "too large" in errors["images/large.png"]
    assert "unreadable" in errors["images/missing.jpg"]
    assert errors["images/broken.png"]
    table = pd.read_parquet(tmp_path / "out" / FAILURES_FILE)
    assert (
        set(table["image_id"]) == set(errors)
        and table["path"].str.endswith("missing.jpg").sum() == 1
    )
    on_disk = json.loads((tmp_path / "out" / SUMMARY_FILE).read_text())
    assert on_disk["failed"] == 6 and on_disk["model"]["id"] == "tiny"
    rows = read_detections(tmp_path / "out")
    assert set(rows["image_id"]) == {"images/good.jpg"}


def test_survey_directory_reads_ok_images_and_writes_inside_it(tiny_model, tmp_path):
    survey = tmp_path / "survey"
    (survey / "images").mkdir(parents=True)
    for i in range(3):
        cv2.imwrite(
            str(survey / "images" / f"{i}_left.jpg"),
            object_image(128, 128, [DrawnObject(0, 40 + 20 * i, 64, 40)]),
        )
    pd.DataFrame(
        {
            "view_id": ["0_left", "1_left", "2_left", "3_left"],
            "image_id": ["img-0", "img-1", "img-2", "img-3"],
            "path": ["images/0_left.jpg", "images/1_left.jpg", "images/2_left.jpg", None],
            "status": ["ok", "ok", "ok", "no_imagery"],
        }
    ).to_parquet(survey / "images.parquet")
    summary = detect_images(survey, model=tiny_model, batch=2, imgsz=TINY_IMGSZ, progress=False)
    assert summary["images"] == summary["ok"] == 3
    assert (survey / SUMMARY_FILE).is_file() and list(
        (survey / "detections").glob("part-*.parquet")
    )
    rows = read_detections(survey)
    assert set(rows["image_id"]) == {"img-0", "img-1", "img-2"}

    again = detect_images(survey, model=tiny_model, batch=2, imgsz=TINY_IMGSZ, progress=False)
    assert again["processed_this_run"] == 0 and again["ok"] == 3
    pd.testing.assert_frame_equal(read_detections(survey), rows)


def test_zero_detection_images_count_as_done_and_other_models_are_refused(tiny_model, tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(3):
        cv2.imwrite(str(folder / f"blank{i}.png"), object_image(96, 96, []))
    first = detect_images(
        folder, model=tiny_model, out=tmp_path / "out", batch=2, imgsz=TINY_IMGSZ, progress=False
    )
    assert first["ok"] == 3 and first["detections"] == 0
    second = detect_images(
        folder, model=tiny_model, out=tmp_path / "out", batch=2, imgsz=TINY_IMGSZ, progress=False
    )
    assert second["processed_this_run"] == 0
    other = tmp_path / "other.pt"
    other.write_bytes(tiny_model.read_bytes())
    with pytest.raises(DetectorInputError, match="already holds detections of model 'tiny'"):
        detect_images(folder, model=other, out=tmp_path / "out", progress=False)
    with pytest.raises(DetectorInputError, match="--out"):
        detect_images(folder, model=tiny_model, progress=False)
    with pytest.raises(DetectorInputError, match="--slice"):
        detect_images(folder, model=tiny_model, out=tmp_path / "o2", slice="big", progress=False)


def test_letterbox_matches_ultralytics():
    from ultralytics.data.augment import LetterBox

    image = np.random.default_rng(0).integers(0, 255, (120, 200, 3), dtype=np.uint8)
    mine, ratio, pad = letterbox(image, 160)
    theirs = LetterBox(new_shape=(160, 160), auto=False)(image=image)
    assert mine.shape == theirs.shape == (160, 160, 3) and ratio == 0.8 and pad == (0, 32)
    np.testing.assert_array_equal(mine, theirs)


def test_plain_progress_lines_when_not_a_terminal():
    import io

    stream = io.StringIO()
    reporter = ProgressReporter(10, tty=False, every_s=0.0, stream=stream)
    reporter.advance(4)
    reporter.advance(6)
    reporter.close()
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("detect: 4/10 images,") and "img/s" in lines[0] and "ETA" in lines[0]
    assert lines[-1].startswith("detect: 10/10 images")
    silent = io.StringIO()
    quiet = ProgressReporter(10, enabled=False, every_s=0.0, stream=silent)
    quiet.advance(10)
    assert silent.getvalue() == ""


def test_reduced_precision_moves_boxes_by_a_fraction_of_a_pixel(tiny_model, tmp_path):
    from detector.engine import fast_bf16_cpu

    images = write_known(tmp_path / "images")
    runs = {}
    for precision in ("fp32", "bf16"):
        summary = detect_images(
            images,
            model=tiny_model,
            out=tmp_path / precision,
            batch=4,
            imgsz=TINY_IMGSZ,
            precision=precision,
            progress=False,
        )
        assert summary["precision"] == precision
        runs[precision] = (
            read_detections(tmp_path / precision)
            .sort_values(["image_id", "conf"])
            .reset_index(drop=True)
        )
    a, b = runs["fp32"], runs["bf16"]
    assert len(a) == len(b) >= 4 and (a["class_id"] == b["class_id"]).all()
    np.testing.assert_allclose(a[["x1", "y1", "x2", "y2"]], b[["x1", "y1", "x2", "y2"]], atol=1.0)
    np.testing.assert_allclose(a["conf"], b["conf"], atol=0.03)
    auto = detect_images(
        images, model=tiny_model, out=tmp_path / "auto", imgsz=TINY_IMGSZ, progress=False
    )
    assert auto["precision"] == ("bf16" if fast_bf16_cpu() else "fp32")
    with pytest.raises(DetectorInputError, match="--precision"):
        detect_images(
            images, model=tiny_model, out=tmp_path / "bad", precision="int4", progress=False
        )
