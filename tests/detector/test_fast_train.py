"""Fast CPU training: all cores, bf16 network with an fp32 loss; bf16 and fp32 train alike."""

import os

import pandas as pd
import pytest
import torch

from detector import engine
from detector.card import read_card
from detector.errors import DetectorInputError
from detector.fast_train import CPUTrainer, forward_in_bf16
from detector.train import _trainer_for, train_model
from tests.detector.drawn import drawn_dataset

TINY = dict(epochs=2, imgsz=64, batch=4, device="cpu", workers=0, threads=2, mosaic=0.0)


def test_training_step_runs_the_network_in_bf16_and_the_loss_in_fp32(monkeypatch):
    from ultralytics.cfg import get_cfg
    from ultralytics.nn.tasks import DetectionModel
    from ultralytics.utils.tal import TaskAlignedAssigner

    torch.manual_seed(0)
    model = DetectionModel("yolo11n.yaml", nc=2, verbose=False).train()
    model.args = get_cfg()  # the loss' gains, as the trainer sets them
    forward_in_bf16(model)
    seen = {}
    model.model[0].register_forward_hook(lambda _m, _i, out: seen.update(conv=out.dtype))
    assign = TaskAlignedAssigner.forward

    def spy(self, pd_scores, pd_bboxes, anc_points, gt_labels, gt_bboxes, *args, **kwargs):
        seen.update(autocast=torch.is_autocast_enabled("cpu"), scores=pd_scores.dtype, boxes=pd_bboxes.dtype,
                    anchors=anc_points.dtype, gt=gt_bboxes.clone())
        return assign(self, pd_scores, pd_bboxes, anc_points, gt_labels, gt_bboxes, *args, **kwargs)

    monkeypatch.setattr(TaskAlignedAssigner, "forward", spy)
    # one box at x1 = 300.5 px of a 512 px image (every coordinate a binary fraction: exact in fp32)
    x1, y1, x2, y2 = 300.5, 260.25, 340.5, 292.25
    batch = {"img": torch.rand(1, 3, 512, 512), "batch_idx": torch.zeros(1), "cls": torch.zeros(1, 1),
             "bboxes": torch.tensor([[(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1]]) / 512}
    loss, items = model(batch)  # what the training step calls
    loss.sum().backward()

    assert seen["conv"] == torch.bfloat16  # the network ran in bf16 ...
    assert not seen["autocast"]  # ... the loss with autocast off, on float32 inputs
    assert seen["scores"] == seen["boxes"] == seen["anchors"] == torch.float32
    assert seen["gt"][0, 0].tolist() == [x1, y1, x2, y2]
    assert torch.tensor(x1).bfloat16().item() == 300.0  # what bf16 would have made of it
    assert loss.dtype == torch.float32 and torch.isfinite(loss).all()
    assert all(p.grad.dtype == torch.float32 for p in model.parameters() if p.grad is not None)


def test_cpu_trainer_uses_every_core_and_the_requested_workers(tmp_path):
    data = drawn_dataset(tmp_path / "data", n_train=2, n_val=1)
    before = torch.get_num_threads()
    try:
        trainer = CPUTrainer(overrides=dict(model="yolo11n.yaml", data=str(data), device="cpu", workers=1,
                                            project=str(tmp_path), name="run"), bf16=True)
        assert torch.get_num_threads() == os.cpu_count()  # ultralytics alone: cpu_count - 1
        assert trainer.args.workers == 1 and trainer.bf16  # ultralytics alone: 0 on CPU
    finally:
        torch.set_num_threads(before)


def test_precision_choice(monkeypatch):
    monkeypatch.setattr(engine, "fast_bf16_cpu", lambda: True)
    trainer, amp, precision = _trainer_for("cpu", "auto", amp=False, threads=None)
    assert precision == "bf16" and trainer.keywords["bf16"] and amp is False
    monkeypatch.setattr(engine, "fast_bf16_cpu", lambda: False)
    assert _trainer_for("cpu", "auto", amp=False, threads=None)[2] == "fp32"
    assert _trainer_for("cpu", "bf16", amp=False, threads=None)[1:] == (False, "bf16")
    assert _trainer_for("0", "auto", amp=True, threads=None) == (None, True, "amp")  # ultralytics' own AMP
    assert _trainer_for("0", "bf16", amp=False, threads=None) == (None, "bf16", "bf16")
    assert _trainer_for("0", "fp32", amp=True, threads=None) == (None, False, "fp32")
    with pytest.raises(DetectorInputError, match="precision"):
        _trainer_for("cpu", "fp16", amp=False, threads=None)


def test_bf16_and_fp32_training_losses_agree_and_bf16_weights_load(tmp_path):
    from ultralytics import YOLO

    data = drawn_dataset(tmp_path / "data", n_train=16, n_val=2)
    losses = {}
    for precision in ("fp32", "bf16"):
        card = train_model(data, out=tmp_path / precision, run_dir=tmp_path / f"run-{precision}",
                           precision=precision, **TINY)
        assert card.extra["precision"] == precision
        table = pd.read_csv(tmp_path / f"run-{precision}" / "results.csv")
        losses[precision] = table[[c for c in table.columns if c.startswith("train/")]].to_numpy()
    assert losses["fp32"].shape == (2, 3)  # 2 epochs x (box, cls, dfl), each the mean of 4 steps
    total = losses["fp32"].sum(axis=1, keepdims=True)  # box and dfl are near 0 this early: compare to the total
    assert (abs(losses["bf16"] - losses["fp32"]) < 0.05 * total).all()
    assert (abs(losses["bf16"].sum(axis=1, keepdims=True) / total - 1) < 0.05).all()
    assert not (losses["bf16"] == losses["fp32"]).all()  # it did train in bf16

    weights = tmp_path / "bf16.pt"
    ckpt = torch.load(weights, map_location="cpu", weights_only=False)
    assert ckpt["optimizer"] is None
    assert {p.dtype for p in ckpt["model"].parameters()} == {torch.float16}  # as ultralytics saves, no bf16
    results = YOLO(str(weights)).predict(str(next((tmp_path / "data" / "images" / "val").glob("*.jpg"))),
                                         imgsz=64, conf=0.0, verbose=False)
    assert results[0].boxes is not None and len(results[0].boxes) > 0
    assert read_card(tmp_path / "bf16.md").extra["precision"] == "bf16"
