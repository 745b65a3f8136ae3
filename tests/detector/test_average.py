"""Weight averaging of real ultralytics checkpoints: the mean is exact, loads and predicts."""

import pytest
import torch

from detector.average import average_checkpoints, main
from detector.errors import DetectorInputError


def _checkpoint(path, *, scale: float, architecture: str = "yolo11n.yaml"):
    from ultralytics import YOLO

    model = YOLO(architecture).model
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(scale)
    torch.save({"model": model, "ema": model, "optimizer": {"state": 1}, "epoch": 3, "train_args": {"imgsz": 64}}, path)
    return path


def test_average_is_the_mean_and_loads_in_ultralytics(tmp_path):
    from ultralytics import YOLO

    a = _checkpoint(tmp_path / "a.pt", scale=0.01)
    b = _checkpoint(tmp_path / "b.pt", scale=0.03)
    out = average_checkpoints([a, b], out=tmp_path / "avg.pt")
    ckpt = torch.load(out, map_location="cpu", weights_only=False)
    assert ckpt["optimizer"] is None and ckpt["ema"] is None and ckpt["averaged_from"] == ["a.pt", "b.pt"]
    weights = [p for p in ckpt["model"].parameters()]
    assert weights[0].dtype == torch.float16
    assert float(weights[0].detach().float().mean()) == pytest.approx(0.02, rel=1e-3)
    model = YOLO(str(out))
    result = model.predict(torch.zeros(1, 3, 64, 64), imgsz=64, conf=0.0, verbose=False)
    assert result[0].boxes is not None


def test_average_refuses_bad_inputs(tmp_path, capsys):
    a = _checkpoint(tmp_path / "a.pt", scale=0.01)
    with pytest.raises(DetectorInputError, match="at least 2"):
        average_checkpoints([a], out=tmp_path / "x.pt")
    with pytest.raises(DetectorInputError, match="not found"):
        average_checkpoints([a, tmp_path / "missing.pt"], out=tmp_path / "x.pt")
    s = _checkpoint(tmp_path / "s.pt", scale=0.01, architecture="yolo11s.yaml")
    assert main([str(tmp_path / "x.pt"), str(a), str(s)]) == 2
    assert "differ in architecture" in capsys.readouterr().err
    assert not (tmp_path / "x.pt").exists()
