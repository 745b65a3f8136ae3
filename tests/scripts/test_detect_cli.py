"""`camcensus detect`, `models` and `export` from the command line: outputs, one-line errors."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import pandas as pd

from detector.card import ModelCard, write_card
from scripts.cli import main
from tests.detector.conftest import TINY_IMGSZ, DrawnObject, object_image, tiny_model  # noqa: F401

REPO = Path(__file__).resolve().parents[2]


def run(args, capsys):
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_detect_a_folder_prints_a_summary_and_resumes(tiny_model, tmp_path, capsys):  # noqa: F811
    images = tmp_path / "photos"
    images.mkdir()
    for i in range(3):
        cv2.imwrite(
            str(images / f"{i}.jpg"), object_image(128, 128, [DrawnObject(i % 2, 64, 64, 40)])
        )
    (images / "bad.jpg").write_text("nope")
    args = [
        "detect",
        images,
        "--model",
        tiny_model,
        "--out",
        tmp_path / "out",
        "--imgsz",
        TINY_IMGSZ,
        "--batch",
        2,
        "--conf",
        0.3,
    ]
    code, out, err = run(args, capsys)
    assert code == 0, err
    assert "4 images, 3 ok, 1 failed" in out and "failed: bad.jpg: not an image" in out
    summary = json.loads((tmp_path / "out" / "detect_summary.json").read_text())
    assert summary["conf"] == 0.3 and summary["batch"] == 2 and summary["detections"] >= 3
    parts = sorted((tmp_path / "out" / "detections").glob("part-*.parquet"))
    rows = pd.concat([pd.read_parquet(p) for p in parts])
    assert set(rows["image_id"]) == {"0.jpg", "1.jpg", "2.jpg"}
    code, out, _ = run(args, capsys)
    assert code == 0 and "this run 0 images" in out


def test_bad_input_is_one_line_and_exit_2(tiny_model, tmp_path, capsys):  # noqa: F811
    (tmp_path / "imgs").mkdir()
    cases = [
        (
            ["detect", tmp_path / "nowhere", "--model", tiny_model, "--out", tmp_path / "o"],
            "image source not found",
        ),
        (
            ["detect", tmp_path / "imgs", "--model", "no-such-model", "--out", tmp_path / "o"],
            "unknown model",
        ),
        (["detect", tmp_path / "imgs", "--model", tiny_model], "--out DIR is required"),
        (
            [
                "detect",
                tmp_path / "imgs",
                "--model",
                tiny_model,
                "--out",
                tmp_path / "o",
                "--slice",
                "x",
            ],
            "--slice",
        ),
        (["export", "--model", tiny_model, "--format", "tflite"], "--format must be"),
    ]
    for args, message in cases:
        code, _, err = run(args, capsys)
        assert code == 2, args
        assert err.count("\n") == 1 and message in err, err


def test_models_lists_cards_and_export_writes_onnx(tiny_model, tmp_path, capsys):  # noqa: F811
    shutil.copyfile(tiny_model, tmp_path / "cam.pt")
    write_card(
        ModelCard(
            name="cam",
            weights="cam.pt",
            imgsz=TINY_IMGSZ,
            conf=0.35,
            precision=0.61,
            recall=0.58,
            ap50=0.5,
            trained_on="drawn",
        ),
        tmp_path / "cam.md",
    )
    code, out, _ = run(["models", "--models-dir", tmp_path], capsys)
    assert code == 0
    line = next(line for line in out.splitlines() if line.startswith("cam "))
    assert "pt" in line and "0.35" in line and "0.61" in line and "0.58" in line and "drawn" in line
    code, out, err = run(["export", "--model", tmp_path / "cam.pt", "--format", "onnx"], capsys)
    assert code == 0, err
    assert (tmp_path / "cam.onnx").is_file() and "exported cam (onnx)" in out


def test_help_is_fast_and_lists_the_options():
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-m", "scripts.cli", "detect", "--help"],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=60,
    )
    assert done.returncode == 0
    for option in (
        "--model",
        "--out",
        "--device",
        "--batch",
        "--conf",
        "--iou",
        "--imgsz",
        "--slice",
        "--workers",
        "--engine",
        "--address",
    ):
        assert option in done.stdout
    probe = (
        "import sys, scripts.commands.detect, scripts.commands.models, scripts.commands.export; "
        "print(sorted(m for m in ('torch', 'ultralytics', 'ray', 'onnxruntime') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, cwd=REPO, timeout=60
    )
    assert done.stdout.strip() == "[]", (
        done.stdout + done.stderr
    )  # heavy imports stay inside the commands
