"""Export ``.pt`` models for fast CPU inference (ONNX, OpenVINO) and run exported models.

``export_model`` wraps ultralytics' exporter (dynamic batch, simplified graph) and puts the result
beside the weights, so the registry finds the card of ``models/NAME.pt`` for ``models/NAME.onnx``
too. An export written elsewhere (``out``) carries its card: a copy of the source's card beside an
ONNX file (``X.md`` for ``X.onnx``) or inside an OpenVINO directory, and every export records the
model id in its own metadata (``camcensus_model_id``), so ``detect``, the estimate and ``camcensus
models`` use the card's operating threshold and figures for it exactly as for the weights.
``OnnxBackend`` and ``OpenVinoBackend`` are engine backends: uint8 NHWC RGB in, the raw
YOLO head (B, 4 + nc, A) out, exactly like the torch backend, so ``detect`` writes the same rows.
"""

from __future__ import annotations

import ast
import os
import shutil
import threading
from pathlib import Path
from typing import Any

import numpy as np

from detector.card import write_card
from detector.errors import DetectorInputError
from detector.registry import MODEL_ID_KEY, OPENVINO_SUFFIX, ResolvedModel, card_path_of, resolve_model
from datetime import UTC

FORMATS = ("onnx", "openvino")


def export_model(
    model: str | Path | ResolvedModel,
    *,
    format: str = "onnx",
    imgsz: int | None = None,
    half: bool = False,
    dynamic: bool = True,
    out: str | Path | None = None,
    models_dir: Path | None = None,
) -> ResolvedModel:
    """Export a ``.pt`` model to ``format`` (onnx or openvino) at ``imgsz`` px (default: the
    card's or the training size); return the exported model resolved by the registry.

    ``out``: where to put it (a ``.onnx`` file, else a folder for onnx; a directory for openvino;
    an existing directory that is not an OpenVINO model gets ``STEM.onnx`` /
    ``STEM_openvino_model`` inside); default
    beside the weights. The export carries the source's card (see the module docstring).
    ``half``: FP16 weights (OpenVINO; ONNX FP16 needs a GPU in ultralytics)."""
    from ultralytics import YOLO

    import detector  # noqa: F401  (offline ultralytics)

    if format not in FORMATS:
        raise DetectorInputError(f"--format must be one of {', '.join(FORMATS)}, got {format!r}")
    resolved = (
        model
        if isinstance(model, ResolvedModel)
        else resolve_model(str(model), models_dir=models_dir)
    )
    if resolved.kind != "pt":
        raise DetectorInputError(
            f"only .pt models can be exported; {resolved.path} is {resolved.kind}"
        )
    if format == "openvino":
        try:
            import openvino  # noqa: F401
        except ImportError:
            raise DetectorInputError(
                "OpenVINO export needs the openvino package (pip install openvino)"
            ) from None
    import tempfile

    with tempfile.TemporaryDirectory(prefix="camcensus-export-") as scratch:
        source = resolved.path
        if out is not None:  # export a copy, so that nothing beside the source weights changes
            source = Path(scratch) / resolved.path.name
            shutil.copyfile(resolved.path, source)
        yolo = YOLO(str(source))
        if imgsz is None:
            args = (getattr(yolo, "ckpt", None) or {}).get("train_args", {}) or {}
            imgsz = (resolved.card.imgsz if resolved.card else None) or args.get("imgsz") or 640
        exported = Path(
            yolo.export(
                format=format,
                imgsz=imgsz,
                dynamic=dynamic,
                half=half and format == "openvino",
                simplify=True,
                batch=1,
                device="cpu",
                verbose=False,
            )
        )
        if out is not None:
            out = Path(out)
            if format == "onnx" and not out.exists() and out.suffix.lower() != ".onnx":
                out.mkdir(parents=True)  # a folder to put it in
            if out.is_dir() and (format == "onnx" or (any(out.iterdir()) and not any(out.glob("*.xml")))):
                out = out / (exported.name if format == "onnx" else f"{resolved.path.stem}{OPENVINO_SUFFIX}")
            if out.exists():
                shutil.rmtree(out) if out.is_dir() else out.unlink()
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(exported), str(out))
            exported = out
        elif format == "openvino" and not exported.name.endswith(OPENVINO_SUFFIX):
            target = exported.with_name(f"{resolved.path.stem}{OPENVINO_SUFFIX}")
            if target.exists():
                shutil.rmtree(target)
            shutil.move(str(exported), str(target))
            exported = target
    _record_model_id(exported, format, resolved.model_id)
    if resolved.card is not None:
        _card_with_export(resolved, exported, format=format, imgsz=imgsz, half=half)
    from detector.registry import model_from_path

    found = model_from_path(exported, models_dir=models_dir)
    if found.card is None and resolved.card is not None:  # keep the source's model id
        found = ResolvedModel(found.path, found.kind, resolved.card, resolved.model_id, resolved.card_path)
    return found


def _record_model_id(exported: Path, format: str, model_id: str) -> None:
    """Write the model id into the export's own metadata (``MODEL_ID_KEY``)."""
    if format == "onnx":
        import onnx

        graph = onnx.load(str(exported))
        props = {p.key: p for p in graph.metadata_props}
        if MODEL_ID_KEY in props:
            props[MODEL_ID_KEY].value = model_id
        else:
            entry = graph.metadata_props.add()
            entry.key, entry.value = MODEL_ID_KEY, model_id
        tmp = exported.with_name(exported.name + ".tmp")
        onnx.save(graph, str(tmp))
        tmp.replace(exported)
    else:
        import yaml

        meta_path = exported / "metadata.yaml"
        meta = (yaml.safe_load(meta_path.read_text()) if meta_path.is_file() else None) or {}
        meta[MODEL_ID_KEY] = model_id
        meta_path.write_text(yaml.safe_dump(meta, sort_keys=False, allow_unicode=True))


def _card_with_export(resolved: ResolvedModel, exported: Path, *, format: str, imgsz: int | None,
                      half: bool) -> Path | None:
    """Write the source's card beside an ONNX export or inside an OpenVINO one, unless the card
    the registry finds beside the export already is the source's; return the card written."""
    import copy
    import hashlib
    from datetime import datetime

    beside = card_path_of(exported)
    if resolved.card_path is not None and beside.resolve() == Path(resolved.card_path).resolve():
        return None  # models/NAME.onnx beside models/NAME.md: one card serves both
    target = exported / f"{resolved.model_id}.md" if format == "openvino" else beside
    if target.is_file():
        from detector.card import read_card

        try:
            other = read_card(target).name
        except DetectorInputError:
            other = None
        if other != resolved.model_id:
            raise DetectorInputError(f"{target} is another model's card ({other}); export elsewhere (--out)")
    card = copy.deepcopy(resolved.card)
    card.weights = "." if format == "openvino" else exported.name
    card.extra["export"] = {
        "format": format, "imgsz": imgsz, "half": bool(half and format == "openvino"),
        "from": resolved.path.name,
        "from_sha256": hashlib.sha256(resolved.path.read_bytes()).hexdigest(),
        "exported": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "note": "a copy of the card of the weights it came from: the same operating threshold and figures",
    }
    return write_card(card, target)


def _parse_names(text: str | None) -> dict[int, str]:
    if not text:
        return {}
    value = ast.literal_eval(text) if isinstance(text, str) else text
    if isinstance(value, list):
        return dict(enumerate(map(str, value)))
    return {int(k): str(v) for k, v in value.items()}


def _imgsz_of(value: Any) -> int | None:
    if value is None:
        return None
    value = ast.literal_eval(value) if isinstance(value, str) else value
    return int(max(value)) if isinstance(value, (list, tuple)) else int(value)


class OnnxBackend:
    """An ultralytics ONNX export run with ONNX Runtime (CUDA provider when asked for and
    available, else CPU). Fixed-batch exports are fed in pieces, padded."""

    def __init__(
        self, path: str | Path, *, device: str = "auto", threads: int | None = None
    ) -> None:
        import onnxruntime as ort

        providers = ["CPUExecutionProvider"]
        if device in ("auto", "cuda") or device.startswith("cuda:"):
            if "CUDAExecutionProvider" in ort.get_available_providers():
                providers.insert(0, "CUDAExecutionProvider")
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads or (os.cpu_count() or 1)
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        self.session = ort.InferenceSession(str(path), options, providers=providers)
        self.device = (
            "cuda" if self.session.get_providers()[0] == "CUDAExecutionProvider" else "cpu"
        )
        meta = self.session.get_modelmeta().custom_metadata_map
        self.names = _parse_names(meta.get("names"))
        self.imgsz = _imgsz_of(meta.get("imgsz"))
        model_input = self.session.get_inputs()[0]
        self.input_name = model_input.name
        self.fixed_batch = model_input.shape[0] if isinstance(model_input.shape[0], int) else None
        self.dtype = np.float16 if "float16" in model_input.type else np.float32
        self.precision = "fp16" if self.dtype == np.float16 else "fp32"

    def forward(self, batch: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(batch.transpose(0, 3, 1, 2)).astype(self.dtype) / self.dtype(255)
        if self.fixed_batch is None:
            return self.session.run(None, {self.input_name: x})[0]
        outs = []
        for start in range(0, len(x), self.fixed_batch):
            piece = x[start : start + self.fixed_batch]
            n = len(piece)
            if n < self.fixed_batch:
                piece = np.concatenate(
                    [piece, np.zeros((self.fixed_batch - n, *piece.shape[1:]), piece.dtype)]
                )
            outs.append(self.session.run(None, {self.input_name: piece})[0][:n])
        return np.concatenate(outs)


class OpenVinoBackend:
    """An ultralytics OpenVINO export (``*_openvino_model`` dir) run with the OpenVINO runtime on
    the CPU (bf16 on CPUs with AMX, OpenVINO's own default). ``threads`` per stream: the model
    is compiled for CPUs // threads parallel streams, one infer request per calling thread.
    ``precision``: "auto" (OpenVINO's default), "fp32", "bf16" or "fp16" (its inference
    precision hint; bf16 runs natively on AVX512-BF16 and AMX CPUs)."""

    def __init__(self, path: str | Path, *, device: str = "auto", threads: int | None = None,
                 precision: str = "auto") -> None:
        try:
            import openvino as ov
        except ImportError:
            raise DetectorInputError(
                "running an OpenVINO model needs the openvino package (pip install openvino)"
            ) from None
        import yaml

        path = Path(path)
        xml = next(path.glob("*.xml"), None)
        if xml is None:
            raise DetectorInputError(f"no OpenVINO .xml model in {path}")
        meta_path = path / "metadata.yaml"
        meta = yaml.safe_load(meta_path.read_text()) if meta_path.is_file() else {}
        self.names = _parse_names(meta.get("names"))
        self.imgsz = _imgsz_of(meta.get("imgsz"))
        cpus = os.cpu_count() or 1
        config = {"NUM_STREAMS": str(max(1, cpus // (threads or cpus))), "INFERENCE_NUM_THREADS": str(cpus)}
        hint = {"fp32": "f32", "bf16": "bf16", "fp16": "f16"}.get(precision)
        if hint:
            config["INFERENCE_PRECISION_HINT"] = hint
        core = ov.Core()
        self.compiled = core.compile_model(core.read_model(xml), "CPU", config)
        self.device = "cpu"
        hint = self.compiled.get_property("INFERENCE_PRECISION_HINT")  # an openvino Type: bf16, f32, ...
        self.precision = str(hint.get_type_name() if hasattr(hint, "get_type_name") else hint).lower()
        self._local = threading.local()

    def forward(self, batch: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(batch.transpose(0, 3, 1, 2)).astype(np.float32) / np.float32(255)
        request = getattr(self._local, "request", None)
        if request is None:
            request = self._local.request = self.compiled.create_infer_request()
        return request.infer({0: x})[0].copy()
