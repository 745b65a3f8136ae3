"""Real ultralytics training on a tiny drawn dataset: weights load and predict; runs resume."""

import pytest
import torch

from detector.card import read_card
from detector.engine import fast_bf16_cpu
from detector.errors import DetectorInputError
from detector.train import train_model
from tests.detector.drawn import drawn_dataset

TINY = dict(epochs=2, imgsz=64, batch=4, device="cpu", workers=0, threads=2, mosaic=0.0)


def test_two_epoch_training_gives_weights_that_load_and_predict(tmp_path):
    from ultralytics import YOLO

    data = drawn_dataset(tmp_path / "data", n_train=8, n_val=2)
    card = train_model(data, out=tmp_path / "models" / "tiny", run_dir=tmp_path / "run", **TINY)
    weights = tmp_path / "models" / "tiny.pt"
    assert weights.is_file() and weights.stat().st_size < 12e6
    ckpt = torch.load(weights, map_location="cpu", weights_only=False)
    assert ckpt["optimizer"] is None  # stripped
    model = YOLO(str(weights))
    assert model.names == {0: "directed", 1: "dome"}
    results = model.predict(str(next((tmp_path / "data" / "images" / "val").glob("*.jpg"))), imgsz=64,
                            conf=0.0, verbose=False)
    assert results[0].boxes is not None and results[0].orig_shape == (96, 96)
    on_disk = read_card(tmp_path / "models" / "tiny.md")
    assert on_disk.classes == ["directed", "dome"] and on_disk.imgsz == 64 and on_disk.weights == "tiny.pt"
    assert on_disk.extra["epochs"] == 2 and on_disk.extra["seed"] == 0 and card.name == "tiny"
    assert on_disk.extra["precision"] == ("bf16" if fast_bf16_cpu() else "fp32")  # auto on this CPU


def test_interrupted_training_resumes_from_last_checkpoint(tmp_path):
    from ultralytics import YOLO

    data = drawn_dataset(tmp_path / "data", n_train=4, n_val=2)
    run = tmp_path / "run"

    def stop_after_first_epoch(trainer):
        if trainer.epoch == 0:
            raise KeyboardInterrupt

    model = YOLO("yolo11n.yaml")
    model.add_callback("on_fit_epoch_end", stop_after_first_epoch)
    with pytest.raises(KeyboardInterrupt):
        model.train(data=str(data), epochs=2, imgsz=64, batch=4, device="cpu", workers=0, amp=False,
                    project=str(run.parent), name=run.name, exist_ok=True, plots=False, mosaic=0.0)
    last = run / "weights" / "last.pt"
    assert torch.load(last, map_location="cpu", weights_only=False)["epoch"] == 0
    train_model(data, out=tmp_path / "resumed", run_dir=run, **TINY)
    lines = (run / "results.csv").read_text().strip().splitlines()
    assert len(lines) == 3  # header + epoch 1 (before the interrupt) + epoch 2 (resumed)
    assert (tmp_path / "resumed.pt").is_file()


def test_bad_training_inputs(tmp_path):
    data = drawn_dataset(tmp_path / "data", n_train=2, n_val=1)
    with pytest.raises(DetectorInputError, match="weights not found"):
        train_model(data, model=tmp_path / "nope.pt", out=tmp_path / "m")
    with pytest.raises(DetectorInputError, match="architecture"):
        train_model(data, model="yolo11n", out=tmp_path / "m")
    with pytest.raises(DetectorInputError, match="not found"):
        train_model(tmp_path / "missing.yaml", out=tmp_path / "m")
