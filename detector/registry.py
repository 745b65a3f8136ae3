"""Model registry: turn a ``--model`` argument into weights on disk, their kind and their card.

A spec is one of
- a model name in ``models/`` (``models/NAME.md`` card beside its weights, or a bare ``NAME.pt``);
- a path to a ``.pt`` file;
- an exported model: a ``.onnx`` file or an ``*_openvino_model`` directory.

The models directory is ``$CAMCENSUS_MODELS_DIR`` when set, else ``models/`` of the repository.
``DEFAULT_MODEL`` is the one model every command uses when ``--model`` is not given.

An exported model keeps its card and its model id: the registry takes the card beside a path
(``X.md`` for ``X.pt``, ``X.onnx`` or ``X_openvino_model``), else a card inside an OpenVINO
directory, else the card in the models directory named by the model id that ``camcensus export``
writes into the export's own metadata (``camcensus_model_id``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import detector
from detector.card import ModelCard, read_card
from detector.errors import DetectorInputError

ModelKind = Literal["pt", "onnx", "openvino"]
OPENVINO_SUFFIX = "_openvino_model"
DEFAULT_MODEL = "cctv-yolo11n-synth4-wise"  # the shipped model: the default of every --model
MODEL_ID_KEY = "camcensus_model_id"  # an export's metadata key naming the model it came from


@dataclass(frozen=True)
class ResolvedModel:
    """Weights of one model: ``path`` (file or OpenVINO dir), ``kind``, optional card, and
    ``model_id``, the name written into every detection row; ``card_path``: where the card was
    read from (None without a card)."""

    path: Path
    kind: ModelKind
    card: ModelCard | None
    model_id: str
    card_path: Path | None = None


def default_models_dir() -> Path:
    """``$CAMCENSUS_MODELS_DIR`` if set, else the repository's ``models/`` folder."""
    env = os.environ.get("CAMCENSUS_MODELS_DIR")
    return Path(env) if env else Path(detector.__file__).resolve().parents[1] / "models"


def kind_of(path: Path) -> ModelKind | None:
    """The kind of a weights path by its name, or None when it is not a model."""
    if path.is_dir():
        return (
            "openvino" if path.name.endswith(OPENVINO_SUFFIX) or any(path.glob("*.xml")) else None
        )
    return {".pt": "pt", ".onnx": "onnx"}.get(path.suffix.lower())


def _stem(path: Path) -> str:
    name = path.name
    if name.endswith(OPENVINO_SUFFIX):
        return name[: -len(OPENVINO_SUFFIX)]
    return path.stem


def card_path_of(path: Path) -> Path:
    """Where the card of weights ``path`` lives or would live: ``STEM.md`` beside them."""
    return path.parent / f"{_stem(path)}.md"


def _card_of(path: Path, kind: ModelKind, models_dir: Path | None) -> Path | None:
    """The card file of a weights path: beside it, inside an OpenVINO dir, else the card in
    ``models_dir`` named by the export's recorded model id."""
    beside = card_path_of(path)
    if beside.is_file():
        return beside
    if kind == "openvino":
        inside = sorted(path.glob("*.md"))
        if len(inside) == 1:
            return inside[0]
    if kind in ("onnx", "openvino"):
        model_id = exported_model_id(path, kind)
        if model_id:
            by_id = (Path(models_dir) if models_dir is not None else default_models_dir()) / f"{model_id}.md"
            if by_id.is_file():
                return by_id
    return None


def exported_model_id(path: Path, kind: ModelKind) -> str | None:
    """The model id ``camcensus export`` wrote into an export's metadata, or None."""
    try:
        if kind == "onnx":
            import onnx

            props = onnx.load(str(path), load_external_data=False).metadata_props
            return next((p.value for p in props if p.key == MODEL_ID_KEY), None)
        if kind == "openvino":
            import yaml

            meta_path = path / "metadata.yaml"
            meta = yaml.safe_load(meta_path.read_text()) if meta_path.is_file() else None
            value = meta.get(MODEL_ID_KEY) if isinstance(meta, dict) else None
            return str(value) if value else None
    except Exception:  # unreadable metadata: no recorded id
        return None
    return None


def model_from_path(path: str | Path, *, models_dir: Path | None = None) -> ResolvedModel:
    """Resolve an existing weights path (``.pt``, ``.onnx``, ``*_openvino_model``) with its card."""
    path = Path(path)
    if not path.exists():
        raise DetectorInputError(f"model not found: {path}")
    kind = kind_of(path)
    if kind is None:
        raise DetectorInputError(
            f"not a model (expected .pt, .onnx or an *{OPENVINO_SUFFIX} dir): {path}"
        )
    card_path = _card_of(path, kind, models_dir)
    card = read_card(card_path) if card_path else None
    return ResolvedModel(
        path=path, kind=kind, card=card, model_id=card.name if card else _stem(path),
        card_path=card_path,
    )


def resolve_model(spec: str | Path | None = None, *, models_dir: Path | None = None) -> ResolvedModel:
    """Resolve ``--model``: a name in ``models_dir`` (card first) or a weights path; None (or "")
    is ``DEFAULT_MODEL``.

    Raises ``DetectorInputError`` naming the known models when nothing matches."""
    models_dir = Path(models_dir) if models_dir is not None else default_models_dir()
    spec = spec or DEFAULT_MODEL
    spec_path = Path(spec)
    if spec_path.exists():
        return model_from_path(spec_path, models_dir=models_dir)
    name = str(spec)
    card_path = models_dir / f"{name}.md"
    if card_path.is_file():
        card = read_card(card_path)
        weights = models_dir / card.weights
        if not weights.exists():
            raise DetectorInputError(
                f"model card {card_path} names weights {card.weights}, which are missing"
            )
        kind = kind_of(weights)
        if kind is None:
            raise DetectorInputError(
                f"model card {card_path} names {card.weights}, which is not a model"
            )
        return ResolvedModel(path=weights, kind=kind, card=card, model_id=card.name, card_path=card_path)
    for candidate in (
        models_dir / name,
        models_dir / f"{name}.pt",
        models_dir / f"{name}.onnx",
        models_dir / f"{name}{OPENVINO_SUFFIX}",
    ):
        if candidate.exists() and kind_of(candidate):
            return model_from_path(candidate, models_dir=models_dir)
    known = ", ".join(m.model_id for m in list_models(models_dir=models_dir)) or "none"
    raise DetectorInputError(
        f"unknown model {name!r}: not a file, and not in {models_dir} (known: {known})"
    )


def list_models(*, models_dir: Path | None = None) -> list[ResolvedModel]:
    """Every model in ``models_dir``: each card with its weights, then weights without a card
    (``.pt``, ``.onnx``, ``*_openvino_model``), sorted by name."""
    models_dir = Path(models_dir) if models_dir is not None else default_models_dir()
    if not models_dir.is_dir():
        return []
    found: dict[Path, ResolvedModel] = {}
    for card_path in sorted(models_dir.glob("*.md")):
        try:
            card = read_card(card_path)
        except DetectorInputError:
            continue
        weights = models_dir / card.weights
        if weights.exists() and kind_of(weights):
            found[weights.resolve()] = ResolvedModel(weights, kind_of(weights), card, card.name, card_path)
    for path in sorted(models_dir.iterdir()):
        if path.resolve() not in found and kind_of(path):
            found[path.resolve()] = model_from_path(path, models_dir=models_dir)
    return sorted(found.values(), key=lambda m: (m.model_id, m.kind))


def model_imgsz(model: ResolvedModel) -> int | None:
    """The input size (px) a model was trained or exported at, read from the weights' own
    metadata (train args of a .pt, ONNX metadata, OpenVINO metadata.yaml); None if unknown."""
    import ast

    value = None
    try:
        if model.kind == "pt":
            import torch

            import detector  # noqa: F401  (ultralytics classes unpickle offline)

            ckpt = torch.load(model.path, map_location="cpu", weights_only=False)
            value = (ckpt.get("train_args") or {}).get("imgsz") if isinstance(ckpt, dict) else None
        elif model.kind == "onnx":
            import onnx

            meta = {
                p.key: p.value
                for p in onnx.load(str(model.path), load_external_data=False).metadata_props
            }
            value = meta.get("imgsz")
        else:
            import yaml

            meta_path = model.path / "metadata.yaml"
            value = (
                (yaml.safe_load(meta_path.read_text()) or {}).get("imgsz")
                if meta_path.is_file()
                else None
            )
    except Exception:  # unreadable metadata: the caller falls back to a default
        return None
    if isinstance(value, str):
        value = ast.literal_eval(value)
    if isinstance(value, (list, tuple)):
        value = max(value)
    return int(value) if value else None


OPERATING_BACKENDS = ("pt", "onnx", "openvino")
OPERATING_FORMATS = ("fp32", "bf16", "fp16", "int8", "auto")


def operating_point_of(model: ResolvedModel) -> dict:
    """The card's operating point ``{"imgsz": px, "backend": pt|onnx|openvino, "format": fp32|bf16|
    int8|auto}`` (``extra.operating_point``, written by the detector's benchmark), or {}."""
    op = (model.card.extra.get("operating_point") if model.card else None) or {}
    if not isinstance(op, dict):
        return {}
    backend, fmt = op.get("backend", "pt"), op.get("format", "auto")
    if backend not in OPERATING_BACKENDS or fmt not in OPERATING_FORMATS:
        return {}
    return {"imgsz": int(op["imgsz"]) if op.get("imgsz") else None, "backend": backend, "format": fmt}


def export_path_for(model: ResolvedModel, backend: str, fmt: str) -> Path:
    """Where the export for ``backend``/``fmt`` of a ``.pt`` model lives: beside the weights,
    ``NAME.onnx``, ``NAME.int8.onnx`` or ``NAME_openvino_model`` (``camcensus export`` writes them)."""
    stem = model.path.parent / _stem(model.path)
    if backend == "openvino":
        return stem.parent / f"{stem.name}{OPENVINO_SUFFIX}"
    return stem.parent / (f"{stem.name}.int8.onnx" if fmt == "int8" else f"{stem.name}.onnx")


def model_at_operating_point(model: ResolvedModel) -> tuple[ResolvedModel, str, str | None]:
    """The model to run for a ``.pt`` whose card names another backend: its export (with the same
    card and id), the precision to run it at, and None; or the ``.pt`` itself, "auto" and a
    one-line note when the export or its runtime is missing."""
    op = operating_point_of(model)
    if model.kind != "pt" or not op or op["backend"] == "pt":
        fmt = op.get("format", "auto") if model.kind == "pt" else "auto"
        return model, fmt if fmt in ("fp32", "bf16", "fp16") else "auto", None
    backend, fmt = op["backend"], op["format"]
    path = export_path_for(model, backend, fmt)
    runtime = "openvino" if backend == "openvino" else "onnxruntime"
    import importlib.util

    if importlib.util.find_spec(runtime) is None:
        return model, "auto", (f"the card's operating point runs on {backend} ({fmt}), but {runtime} is not "
                               f"installed: using the .pt engine")
    if not path.exists() or kind_of(path) is None:  # an empty *_openvino_model folder is no export
        how = ("python -m scripts.bench.operating_point ... (int8 needs calibration images)" if fmt == "int8"
               else f"camcensus export --model {model.model_id} --format {backend}")
        return model, "auto", (f"the card's operating point runs on {backend} ({fmt}), but {path.name} is "
                               f"missing ({how}): using the .pt engine")
    exported = ResolvedModel(path, kind_of(path), model.card, model.model_id, model.card_path)
    return exported, fmt if fmt in ("fp32", "bf16", "fp16") else "auto", None
