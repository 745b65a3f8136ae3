"""Exported models: the ONNX export of the tiny model gives the torch model's boxes through the
same engine, and the registry resolves names, paths and exports with their cards."""

import shutil

import cv2
import numpy as np
import pandas as pd
import pytest

from detector.card import ModelCard, write_card
from detector.detect import detect_images
from detector.engine import read_detections
from detector.errors import DetectorInputError
from detector.export import export_model
from detector.registry import list_models, resolve_model
from tests.detector.conftest import TINY_IMGSZ, DrawnObject, object_image


@pytest.fixture(scope="module")
def models_dir(tiny_model, tmp_path_factory):
    """models/ with the tiny model under a card, and its ONNX export beside it."""
    folder = tmp_path_factory.mktemp("models")
    shutil.copyfile(tiny_model, folder / "cam.pt")
    write_card(
        ModelCard(
            name="cam",
            weights="cam.pt",
            imgsz=TINY_IMGSZ,
            conf=0.3,
            precision=0.8,
            recall=0.7,
            trained_on="drawn objects",
        ),
        folder / "cam.md",
    )
    export_model("cam", format="onnx", models_dir=folder)
    return folder


def test_onnx_export_gives_the_same_boxes_as_torch(models_dir, tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(3)
    for i in range(6):
        objects = [
            DrawnObject(int(rng.integers(2)), *rng.integers(40, 120, 2), int(rng.integers(30, 50)))
        ]
        cv2.imwrite(str(images / f"{i}.jpg"), object_image(160, 160, objects, noise=5, seed=i))
    onnx = resolve_model("cam.onnx", models_dir=models_dir)
    assert onnx.kind == "onnx" and onnx.model_id == "cam" and onnx.card.conf == 0.3
    torch_summary = detect_images(
        images,
        model="cam",
        models_dir=models_dir,
        out=tmp_path / "torch",
        batch=4,
        precision="fp32",
        progress=False,
    )
    onnx_summary = detect_images(
        images, model=models_dir / "cam.onnx", out=tmp_path / "onnx", batch=4, progress=False
    )
    assert (
        torch_summary["conf"] == onnx_summary["conf"] == 0.3 and onnx_summary["imgsz"] == TINY_IMGSZ
    )
    assert onnx_summary["model"]["kind"] == "onnx"
    key = ["image_id", "class_id"]
    a = read_detections(tmp_path / "torch").sort_values(key + ["x1"]).reset_index(drop=True)
    b = read_detections(tmp_path / "onnx").sort_values(key + ["x1"]).reset_index(drop=True)
    assert len(a) == len(b) >= 5
    pd.testing.assert_frame_equal(
        a[key + ["class_name", "model_id"]], b[key + ["class_name", "model_id"]]
    )
    np.testing.assert_allclose(a[["x1", "y1", "x2", "y2"]], b[["x1", "y1", "x2", "y2"]], atol=0.5)
    np.testing.assert_allclose(a["conf"], b["conf"], atol=2e-3)


def test_registry_resolves_names_paths_and_exports(models_dir, tmp_path):
    by_name = resolve_model("cam", models_dir=models_dir)
    assert (
        by_name.kind == "pt"
        and by_name.path == models_dir / "cam.pt"
        and by_name.card.recall == 0.7
    )
    listed = list_models(models_dir=models_dir)
    assert [(m.model_id, m.kind) for m in listed] == [("cam", "onnx"), ("cam", "pt")]
    loose = tmp_path / "loose.pt"
    shutil.copyfile(models_dir / "cam.pt", loose)
    by_path = resolve_model(str(loose), models_dir=models_dir)
    assert by_path.model_id == "loose" and by_path.card is None and by_path.kind == "pt"
    ov = tmp_path / "x_openvino_model"
    ov.mkdir()
    assert resolve_model(str(ov)).kind == "openvino"
    with pytest.raises(DetectorInputError, match="unknown model 'nope'.*known: cam"):
        resolve_model("nope", models_dir=models_dir)
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(DetectorInputError, match="not a model"):
        resolve_model(str(tmp_path / "notes.txt"))
    with pytest.raises(DetectorInputError, match="only .pt"):
        export_model(models_dir / "cam.onnx")


def test_models_dir_comes_from_the_environment(models_dir, monkeypatch):
    monkeypatch.setenv("CAMCENSUS_MODELS_DIR", str(models_dir))
    assert resolve_model("cam").path == models_dir / "cam.pt"


@pytest.mark.slow
def test_openvino_export_gives_the_boxes_of_torch(models_dir, tmp_path):
    pytest.importorskip("openvino")
    images = tmp_path / "images"
    images.mkdir()
    for i in range(4):
        objects = [DrawnObject(i % 2, 50 + 15 * i, 70, 40)]
        cv2.imwrite(str(images / f"{i}.png"), object_image(160, 128, objects, noise=5, seed=i))
    exported = export_model("cam", format="openvino", models_dir=models_dir)
    assert exported.kind == "openvino" and exported.path.name == "cam_openvino_model"
    assert exported.model_id == "cam"
    torch_run = detect_images(
        images, model="cam", models_dir=models_dir, out=tmp_path / "torch", precision="fp32", progress=False
    )
    ov_run = detect_images(images, model=exported.path, out=tmp_path / "ov", progress=False)
    assert ov_run["model"]["kind"] == "openvino" and ov_run["detections"] == torch_run["detections"] >= 4
    key = ["image_id", "class_id", "x1"]
    a = read_detections(tmp_path / "torch").sort_values(key).reset_index(drop=True)
    b = read_detections(tmp_path / "ov").sort_values(key).reset_index(drop=True)
    assert (a["class_id"] == b["class_id"]).all() and (a["image_id"] == b["image_id"]).all()
    np.testing.assert_allclose(a[["x1", "y1", "x2", "y2"]], b[["x1", "y1", "x2", "y2"]], atol=1.0)
    np.testing.assert_allclose(a["conf"], b["conf"], atol=0.03)
