"""The card's operating point (issue 28): `detect` with a model named by the registry runs at the
card's size, backend and format, and falls back to the .pt engine with one line when the export is
missing."""

import shutil

import cv2
import pytest

from detector.card import ModelCard, write_card
from detector.detect import detect_images
from detector.export import export_model
from detector.registry import model_at_operating_point, operating_point_of, resolve_model
from tests.detector.conftest import TINY_IMGSZ, DrawnObject, object_image


@pytest.fixture()
def models_dir(tiny_model, tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    shutil.copyfile(tiny_model, folder / "cam.pt")
    card = ModelCard(name="cam", weights="cam.pt", imgsz=TINY_IMGSZ, conf=0.42)
    card.extra["operating_point"] = {"imgsz": 160, "backend": "onnx", "format": "fp32"}
    write_card(card, folder / "cam.md")
    return folder


def _images(folder):
    folder.mkdir()
    for i in range(3):
        cv2.imwrite(str(folder / f"{i}.png"), object_image(160, 160, [DrawnObject(i % 2, 80, 80, 50)], seed=i))
    return folder


def test_missing_export_falls_back_to_pt_with_one_line(models_dir, tmp_path, capsys):
    model = resolve_model("cam", models_dir=models_dir)
    assert operating_point_of(model) == {"imgsz": 160, "backend": "onnx", "format": "fp32"}
    run, precision, note = model_at_operating_point(model)
    assert run.kind == "pt" and precision == "auto" and "cam.onnx is missing" in note
    summary = detect_images(_images(tmp_path / "im"), model="cam", models_dir=models_dir, out=tmp_path / "o",
                            progress=False)
    err = capsys.readouterr().err
    assert err.count("note: the card's operating point") == 1
    assert summary["imgsz"] == 160 and summary["model"]["kind"] == "pt"


def test_export_beside_the_weights_is_used_at_the_cards_size(models_dir, tmp_path, capsys):
    export_model("cam", format="onnx", models_dir=models_dir)  # models/cam.onnx beside the weights
    model = resolve_model("cam", models_dir=models_dir)
    run, precision, note = model_at_operating_point(model)
    assert note is None and run.kind == "onnx" and run.path.name == "cam.onnx" and run.model_id == "cam"
    summary = detect_images(_images(tmp_path / "im"), model="cam", models_dir=models_dir, out=tmp_path / "o",
                            progress=False)
    assert "note:" not in capsys.readouterr().err
    assert summary["model"]["id"] == "cam" and summary["model"]["kind"] == "onnx" and summary["imgsz"] == 160
    assert summary["conf"] == 0.42
    # an explicit weights path is run as given (no switch)
    pt = detect_images(_images(tmp_path / "im2"), model=models_dir / "cam.pt", out=tmp_path / "p", progress=False)
    assert pt["model"]["id"] == "cam"


def test_int8_leaves_the_heads_decoding_in_fp32(tiny_model, tmp_path):
    """The int8 export quantizes the convolutions only: the detect head's decoding (where box
    coordinates of 0-640 px and scores of 0-1 meet) stays fp32, so one int8 scale cannot erase the scores."""
    import onnx

    from scripts.bench.operating_point import head_decoding_nodes

    onnx_path = tmp_path / "cam.onnx"
    export_model(resolve_model(str(tiny_model)), format="onnx", out=onnx_path)
    graph = onnx.load(str(onnx_path)).graph
    kept = head_decoding_nodes(onnx.load(str(onnx_path)))
    head = kept[0].split("/")[1]
    assert all(name.startswith(f"/{head}/") for name in kept)
    ops = {node.name: node.op_type for node in graph.node}
    assert {"Sigmoid", "Concat", "Softmax"} <= {ops[name] for name in kept}  # scores, boxes, the DFL
    assert not any(f"/{head}/cv2." in name or f"/{head}/cv3." in name for name in kept)
    assert any(node.op_type == "Conv" and node.name not in kept for node in graph.node)
