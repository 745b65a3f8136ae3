"""Train a YOLO camera detector with ultralytics, offline, seeded and resumable.

``train_model`` runs ultralytics training in a run folder (checkpoints every epoch), resumes
from that folder's ``last.pt`` when an earlier run was interrupted, and finally writes
``OUT.pt`` (best epoch, optimizer stripped, fp16) and the model card ``OUT.md``. On CPU it trains
with :class:`detector.fast_train.CPUTrainer`: every core, data-loader workers, and a bf16 network
with an fp32 loss on CPUs with native bfloat16 (about 2.5x stock ultralytics there).
"""

from __future__ import annotations

import functools
import shutil
import time
from pathlib import Path
from typing import Any

import detector  # noqa: F401  (offline ultralytics set-up before it is imported)
from detector.card import ModelCard, write_card
from detector.errors import DetectorInputError
from detector.io import atomic_path
from detector.yolo_dataset import read_data_yaml

CPU_WORKERS = 0  # CPU data-loader processes: measured on 2 cores, 1 is no faster (it competes with the threads)


def train_model(data_yaml: str | Path, *, model: str | Path = "yolo11n.yaml", epochs: int = 100,
                imgsz: int = 640, device: str = "auto", out: str | Path = Path("models/cctv-yolo11n"),
                seed: int = 0, batch: int = 16, workers: int | None = None, patience: int = 50,
                threads: int | None = None, run_dir: str | Path | None = None, fresh: bool = False,
                amp: bool = False, precision: str = "auto", hours: float | None = None,
                trained_on: str | None = None, **train_args: Any) -> ModelCard:
    """Train ``model`` (a yaml architecture such as ``yolo11n.yaml`` or a ``.pt`` to fine-tune) on
    ``data_yaml`` for ``epochs`` at ``imgsz`` px and write ``OUT.pt`` + ``OUT.md``.

    ``device``: "auto" (first GPU, else CPU), "cpu", "0", "0,1", "mps". ``run_dir`` (default
    ``runs/train/NAME``) keeps the checkpoints; if it holds an unfinished run it is resumed
    (``fresh=True`` starts over). ``threads``: torch CPU threads (default: every core; stock
    ultralytics uses one fewer). ``precision``: "auto" trains in bf16 (network forward under CPU
    autocast, loss and box decoding in fp32) on CPUs with native bfloat16 and in fp32 on other
    CPUs, and leaves CUDA to ultralytics' ``amp``; "fp32" or "bf16" force it (on CUDA too). AMP
    stays off by default because its self-check needs to download weights. ``hours`` caps the
    training time (ultralytics then fits the number of epochs, and the learning-rate schedule, to
    it after the first epoch).
    Extra ``train_args`` (e.g. ``val=False``, ``warmup_epochs=1``) go to ultralytics.
    """
    spec = read_data_yaml(data_yaml)  # fails early, with one line, on a malformed dataset
    out = Path(out)
    if out.suffix in (".pt", ".md"):
        out = out.with_suffix("")
    name = out.name
    run_dir = Path(run_dir) if run_dir is not None else Path("runs") / "train" / name
    if hours is not None:
        if hours <= 0:
            raise DetectorInputError(f"--hours must be > 0, got {hours}")
        train_args["time"] = hours
    if epochs < 1 or imgsz < 32:
        raise DetectorInputError(f"need epochs >= 1 and imgsz >= 32 px, got epochs={epochs}, imgsz={imgsz}")
    model_is_file = str(model).endswith(".pt")
    if model_is_file and not Path(model).is_file():
        raise DetectorInputError(f"model weights not found: {model}")
    if not model_is_file and not str(model).endswith((".yaml", ".yml")):
        raise DetectorInputError(f"--model must be an architecture .yaml (e.g. yolo11n.yaml) or a .pt file: {model}")

    import torch

    if threads:
        torch.set_num_threads(threads)
    from ultralytics import YOLO

    resolved_device = _resolve_device(device, torch)
    if workers is None:
        workers = 8 if resolved_device not in ("cpu", "mps") else CPU_WORKERS
    trainer, amp, precision = _trainer_for(resolved_device, precision, amp=amp, threads=threads)
    last = run_dir / "weights" / "last.pt"
    started = time.time()
    if fresh and run_dir.exists():
        shutil.rmtree(run_dir)
    if last.is_file() and _unfinished(last, torch):
        yolo = YOLO(str(last))
        yolo.add_callback("on_train_epoch_end", _log_epoch)
        yolo.train(resume=True, device=resolved_device, workers=workers, trainer=trainer)
    elif not last.is_file():
        yolo = YOLO(str(model))
        _check_train_args(train_args)
        yolo.add_callback("on_train_epoch_end", _log_epoch)
        yolo.train(data=str(spec.yaml_path.resolve()), epochs=epochs, imgsz=imgsz, batch=batch,
                   device=resolved_device, workers=workers, seed=seed, deterministic=True,
                   patience=patience, amp=amp, project=str(run_dir.parent.resolve()), name=run_dir.name,
                   exist_ok=True, plots=False, verbose=False, trainer=trainer, **train_args)
    # else: the run in run_dir finished earlier; only the outputs are (re)written
    best = run_dir / "weights" / "best.pt"
    if not best.is_file():
        best = last
    if not best.is_file():
        raise DetectorInputError(f"training produced no weights in {run_dir / 'weights'}")
    out.parent.mkdir(parents=True, exist_ok=True)
    weights = out.with_suffix(".pt")
    _strip_copy(best, weights)
    results = _last_results(run_dir)
    epochs_done = int(results.get("epoch", epochs))
    card = ModelCard(
        name=name, weights=weights.name, classes=list(spec.names), imgsz=imgsz,
        trained_on=trained_on or _describe_data(spec.yaml_path),
        extra={"architecture": str(model), "epochs": epochs_done, "seed": seed, "batch": batch,
               "device": resolved_device, "precision": precision,
               "train_seconds": round(time.time() - started, 1), "data": str(spec.yaml_path),
               "ultralytics_val": results},
        body=(f"# {name}\n\nTrained with `camcensus train` from `{model}` for {epochs_done} epochs at {imgsz} px "
              f"on {trained_on or _describe_data(spec.yaml_path)}. Run `camcensus evaluate --update-card` on "
              "its held-out set to fill in the operating threshold, precision and recall.\n"),
    )
    write_card(card, out.with_suffix(".md"))
    return card


def _log_epoch(trainer: Any) -> None:
    """One plain progress line per epoch on stderr (ultralytics' own output is silenced)."""
    import sys

    losses = trainer.label_loss_items(trainer.tloss, prefix="train") if trainer.tloss is not None else {}
    text = " ".join(f"{k.split('/')[-1]} {float(v):.3f}" for k, v in losses.items())
    print(f"epoch {trainer.epoch + 1}/{trainer.epochs} ({time.time() - trainer.train_time_start:.0f} s) {text}",
          file=sys.stderr, flush=True)


def _check_train_args(train_args: dict[str, Any]) -> None:
    from ultralytics.cfg import DEFAULT_CFG_DICT

    unknown = sorted(set(train_args) - set(DEFAULT_CFG_DICT))
    if unknown:
        raise DetectorInputError(f"unknown ultralytics training argument(s): {', '.join(unknown)}")


def _trainer_for(device: str, precision: str, *, amp: bool | str, threads: int | None,
                 ) -> tuple[Any, bool | str, str]:
    """(trainer class for ``YOLO.train``, its ``amp`` argument, the precision used) on ``device``."""
    from detector.engine import pick_precision

    if precision not in ("auto", "fp32", "bf16"):
        raise DetectorInputError(f"--precision must be auto, fp32 or bf16, got {precision!r}")
    if device == "cpu":
        from detector.fast_train import CPUTrainer

        precision = pick_precision(precision, "cpu")  # auto: bf16 where the CPU has it natively
        return functools.partial(CPUTrainer, bf16=precision == "bf16", threads=threads), False, precision
    if precision == "bf16" and device == "mps":
        raise DetectorInputError("bf16 training needs a CPU or a CUDA GPU, not mps")
    if precision == "auto":
        return None, amp, "amp" if amp else "fp32"
    return None, "bf16" if precision == "bf16" else False, precision


def _resolve_device(device: str, torch: Any) -> str:
    if device in ("auto", "", None):
        return "0" if torch.cuda.is_available() else "cpu"
    return str(device)


def _unfinished(last: Path, torch: Any) -> bool:
    """A checkpoint that still has an optimizer state and a real epoch is a run to resume."""
    ckpt = torch.load(last, map_location="cpu", weights_only=False)
    return ckpt.get("optimizer") is not None and ckpt.get("epoch", -1) >= 0


def _strip_copy(source: Path, target: Path) -> None:
    """Copy weights without optimizer state, EMA as the model, fp16 (ultralytics' strip_optimizer)."""
    from ultralytics.utils.torch_utils import strip_optimizer

    with atomic_path(target) as tmp:
        strip_optimizer(source, str(tmp))


def _last_results(run_dir: Path) -> dict[str, float]:
    """The last row of ultralytics' results.csv (validation metrics during training)."""
    path = run_dir / "results.csv"
    if not path.is_file():
        return {}
    import pandas as pd

    table = pd.read_csv(path)
    table.columns = [c.strip() for c in table.columns]
    if table.empty:
        return {}
    row = table.iloc[-1]
    keys = [k for k in ("epoch", "metrics/precision(B)", "metrics/recall(B)", "metrics/mAP50(B)",
                        "metrics/mAP50-95(B)") if k in row]
    return {k: round(float(row[k]), 4) for k in keys}


def _describe_data(yaml_path: Path) -> str:
    import yaml

    data = yaml.safe_load(yaml_path.read_text(encoding="utf-8")) or {}
    return str(data.get("description") or yaml_path)
