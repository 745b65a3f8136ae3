"""An exported model carries its card: `detect` given the export by path uses the card's operating
threshold and model id, as for the weights it came from (issue 20)."""

import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from detector.card import ModelCard, read_card, write_card
from detector.detect import detect_images
from detector.engine import read_detections
from detector.export import export_model
from detector.registry import DEFAULT_MODEL, MODEL_ID_KEY, exported_model_id, resolve_model
from tests.detector.conftest import TINY_IMGSZ, DrawnObject, object_image

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def models_dir(tiny_model, tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    shutil.copyfile(tiny_model, folder / "cam.pt")
    write_card(ModelCard(name="cam", weights="cam.pt", imgsz=TINY_IMGSZ, conf=0.42, precision=0.8, recall=0.7),
               folder / "cam.md")
    return folder


def test_onnx_export_elsewhere_carries_its_card(models_dir, tmp_path):
    before = sorted(p.name for p in models_dir.iterdir())
    exported = export_model("cam", format="onnx", models_dir=models_dir, out=tmp_path / "out" / "fast.onnx")
    assert sorted(p.name for p in models_dir.iterdir()) == before  # nothing written beside the weights
    assert exported.path == tmp_path / "out" / "fast.onnx" and exported.card_path == tmp_path / "out" / "fast.md"
    copy = read_card(exported.card_path)
    assert copy.name == "cam" and copy.conf == 0.42 and copy.weights == "fast.onnx"
    assert copy.extra["export"]["format"] == "onnx" and copy.extra["export"]["from"] == "cam.pt"
    assert exported_model_id(exported.path, "onnx") == "cam"

    images = tmp_path / "images"
    images.mkdir()
    for i in range(4):
        cv2.imwrite(str(images / f"{i}.png"), object_image(160, 160, [DrawnObject(i % 2, 80, 80, 50)], seed=i))
    pt = detect_images(images, model="cam", models_dir=models_dir, out=tmp_path / "pt", precision="fp32",
                       progress=False)
    onnx = detect_images(images, model=exported.path, out=tmp_path / "onnx", progress=False)
    assert pt["conf"] == onnx["conf"] == 0.42 and onnx["model"]["id"] == "cam"
    assert onnx["detections"] == pt["detections"]

    # Moved without its card, the export still finds it through the model id in its metadata.
    alone = tmp_path / "alone.onnx"
    shutil.copyfile(exported.path, alone)
    found = resolve_model(str(alone), models_dir=models_dir)
    assert found.model_id == "cam" and found.card.conf == 0.42 and found.card_path == models_dir / "cam.md"


def test_detect_without_model_uses_the_default(tmp_path):
    from scripts.cli import main

    images = tmp_path / "images"
    images.mkdir()
    cv2.imwrite(str(images / "0.png"), object_image(320, 320, [DrawnObject(0, 160, 160, 40)]))
    assert main(["detect", str(images), "--out", str(tmp_path / "out")]) == 0
    import json

    summary = json.loads((tmp_path / "out" / "detect_summary.json").read_text())
    assert summary["model"]["id"] == DEFAULT_MODEL
    assert summary["conf"] == resolve_model(DEFAULT_MODEL).card.conf


def rendered_views(root: Path, n_points: int = 60) -> Path:
    """Simulated views of the demo area with dense random cameras (sample + fetch commands)."""
    env_cmd = [sys.executable, "-m", "scripts.cli"]
    for args in (["sample", "--out", str(root), "--area", "demo", "--method", "random", "--n", str(n_points),
                  "--seed", "11"],
                 ["fetch", str(root), "--provider", "simulated", "--sim-cameras", "random:15:5", "--workers", "2"]):
        done = subprocess.run([*env_cmd, *args], cwd=REPO, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout + done.stderr
    return root / "images"


@pytest.mark.slow
@pytest.mark.parametrize("format", ["onnx", "openvino"])
def test_exports_of_the_shipped_model_match_its_weights(format, tmp_path):
    """The shipped model exported elsewhere: detect by path runs at the card's threshold and finds
    the .pt's detections within 1% (at least one box of slack on small counts)."""
    if format == "openvino":
        pytest.importorskip("openvino")
    card = resolve_model(DEFAULT_MODEL).card
    exported = export_model(DEFAULT_MODEL, format=format, out=tmp_path / "export")
    assert exported.model_id == DEFAULT_MODEL and exported.card.conf == card.conf
    images = rendered_views(tmp_path / "survey")
    pt = detect_images(images, model=DEFAULT_MODEL, out=tmp_path / "pt", precision="fp32", progress=False)
    ex = detect_images(images, model=exported.path, out=tmp_path / "ex", progress=False)
    assert ex["conf"] == pt["conf"] == card.conf and ex["model"]["id"] == DEFAULT_MODEL
    assert pt["detections"] >= 10
    assert abs(ex["detections"] - pt["detections"]) <= max(1, 0.01 * pt["detections"])
    a, b = read_detections(tmp_path / "pt"), read_detections(tmp_path / "ex")
    per_image = pd.concat([a.groupby("image_id").size().rename("pt"), b.groupby("image_id").size().rename("ex")],
                          axis=1).fillna(0)
    assert (per_image["pt"] != per_image["ex"]).sum() <= max(1, 0.01 * len(per_image))
    assert np.isclose(a["conf"].mean(), b["conf"].mean(), atol=0.02)
    assert MODEL_ID_KEY and exported_model_id(exported.path, format) == DEFAULT_MODEL


def test_models_marks_the_default_and_lists_an_export_with_its_card(tmp_path, capsys):
    from scripts.cli import main

    folder = tmp_path / "models"
    folder.mkdir()
    for suffix in (".pt", ".md"):
        shutil.copyfile(REPO / "models" / f"{DEFAULT_MODEL}{suffix}", folder / f"{DEFAULT_MODEL}{suffix}")
    (folder / f"{DEFAULT_MODEL}_openvino_model").mkdir()  # an export beside the weights (listed by name)
    assert main(["models", "--models-dir", str(folder)]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = [line for line in lines if line.startswith(f"{DEFAULT_MODEL} *")]
    conf = f"{read_card(folder / f'{DEFAULT_MODEL}.md').conf:.2f}"
    assert len(rows) == 2 and all(conf in row for row in rows)  # the weights and the export, one card
    assert {row.split()[2] for row in rows} == {"pt", "openvino"}
    assert any(line.startswith("* the default model") and DEFAULT_MODEL in line for line in lines)
