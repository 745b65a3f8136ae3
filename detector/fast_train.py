"""Fast CPU training for ultralytics YOLO: every core, data-loader workers, bf16 network, fp32 loss.

Stock ultralytics trains on CPU with ``min(8, cpu_count - 1)`` torch threads, no data-loader
workers and in fp32 only (its bf16 autocast is CUDA-only). :class:`CPUTrainer` is its
``DetectionTrainer`` with all cores, the requested workers and, with ``bf16=True``, the network's
forward (and so its backward) under ``torch.autocast("cpu", dtype=torch.bfloat16)``, about 2.5x
faster on CPUs with native bfloat16 (AMX / AVX512-BF16). The loss (anchors, box decoding, target
assignment) runs with autocast off on float32 copies of the head outputs: bfloat16 holds integers
exactly only up to 256, so pixel coordinates must never pass through it.

Use: ``YOLO(...).train(trainer=functools.partial(CPUTrainer, bf16=True), device="cpu", ...)``.
"""

from __future__ import annotations

import os
from typing import Any

import torch

import detector  # noqa: F401  (offline ultralytics set-up before it is imported)
from ultralytics.models.yolo.detect import DetectionTrainer
from ultralytics.utils import DEFAULT_CFG
from ultralytics.utils.torch_utils import unwrap_model


class CPUTrainer(DetectionTrainer):
    """``DetectionTrainer`` on CPU with ``threads`` torch threads (default: every core), the
    requested ``workers`` and, with ``bf16``, a bf16-autocast forward and an fp32 loss."""

    def __init__(self, cfg: Any = DEFAULT_CFG, overrides: dict | None = None,
                 _callbacks: dict | None = None, *, bf16: bool = False, threads: int | None = None) -> None:
        workers = (overrides or {}).get("workers", DEFAULT_CFG.workers)
        super().__init__(cfg, overrides, _callbacks)  # its select_device() sets 1 thread (2 cores), 0 workers
        self.bf16 = bf16
        self.threads = max(1, threads or os.cpu_count() or 1)
        self.args.workers = workers
        torch.set_num_threads(self.threads)
        # the final validation of best.pt calls select_device() again; on_val_start comes after it
        self.add_callback("on_val_start", lambda _validator: torch.set_num_threads(self.threads))

    def _setup_train(self) -> None:
        super()._setup_train()  # builds the EMA copy (what checkpoints save) before the patch below
        if self.bf16:
            forward_in_bf16(unwrap_model(self.model))


def forward_in_bf16(model: torch.nn.Module) -> None:
    """Make ``model.loss(batch)``, the training step's call, run the network under CPU bf16 autocast
    and the criterion with autocast off on float32 head outputs. Patches this instance only."""
    loss = type(model).loss

    def loss_bf16(batch: dict, preds: Any = None) -> Any:
        if preds is None:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                preds = model.forward(batch["img"])
        with torch.autocast("cpu", enabled=False):
            return loss(model, batch, to_float32(preds))

    model.loss = loss_bf16


def to_float32(value: Any) -> Any:
    """``value`` with every floating tensor in it (nested dicts, lists, tuples) cast to float32."""
    if torch.is_tensor(value):
        return value.float() if value.is_floating_point() else value
    if isinstance(value, dict):
        return {k: to_float32(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(to_float32(v) for v in value)
    return value
