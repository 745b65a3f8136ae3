"""Weight averaging of one training run's epoch checkpoints (Izmailov et al. 2018, "Averaging
weights leads to wider optima and better generalization"; Wortsman et al. 2022, "model soups").

Checkpoints of one run late in its schedule lie in one basin; their mean generalizes better than
any one of them, most of all to looks the run never saw (issue 28: round 3's epochs 11-17 averaged
find 0.49 of the held-out look's cameras where the best single epoch finds 0.42).

    python -m detector.average OUT.pt CKPT.pt CKPT.pt ...
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Sequence

from detector.errors import DetectorInputError
from detector.io import atomic_path


def average_checkpoints(checkpoints: Sequence[str | Path], *, out: str | Path) -> Path:
    """Write ``out``: an ultralytics weights file whose model is the mean of the checkpoints' models
    (each checkpoint's EMA where it has one, else its model; every floating-point tensor averaged,
    BatchNorm running statistics included; integer buffers from the last checkpoint), in fp16 and
    without optimizer state, like ``strip_optimizer``. The checkpoints must share one architecture."""
    import torch

    paths = [Path(p) for p in checkpoints]
    if len(paths) < 2:
        raise DetectorInputError(f"need at least 2 checkpoints to average, got {len(paths)}")
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise DetectorInputError(f"checkpoint not found: {missing[0]}")
    ckpts = [torch.load(p, map_location="cpu", weights_only=False) for p in paths]
    models = [(c.get("ema") or c["model"]).float() for c in ckpts]
    states = [m.state_dict() for m in models]
    keys = list(states[-1])
    if any(list(s) != keys or any(s[k].shape != states[-1][k].shape for k in keys) for s in states):
        raise DetectorInputError("checkpoints differ in architecture: only one run's checkpoints can be averaged")
    mean = {k: (torch.stack([s[k] for s in states]).mean(0) if states[-1][k].is_floating_point() else states[-1][k])
            for k in keys}
    model = copy.deepcopy(models[-1])
    model.load_state_dict(mean)
    kept = {k: v for k, v in ckpts[-1].items() if k not in ("model", "ema", "optimizer", "updates", "epoch")}
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        torch.save({**kept, "model": model.half(), "ema": None, "optimizer": None, "updates": None, "epoch": -1,
                    "averaged_from": [p.name for p in paths]}, tmp)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 3:
        print("usage: python -m detector.average OUT.pt CKPT.pt CKPT.pt [...]", file=sys.stderr)
        return 2
    try:
        out = average_checkpoints(args[1:], out=args[0])
    except DetectorInputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {out}: the mean of {len(args) - 1} checkpoints")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
