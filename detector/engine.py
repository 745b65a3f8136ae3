"""The detection engine core: image loading, model backends, chunked local inference, part files.

It knows nothing of Ray (``detector.ray_engine`` builds on it) and nothing of the job around it
(``detector.detect.detect_images`` is the public entry of the detect stage).

How it runs (local engine):
- the source is listed (``detector.sources``), images already done in ``OUT/detections/`` are
  dropped, the rest is cut into chunks of ``batch`` images in image_id order;
- a thread pool decodes (Pillow, JPEG draft mode when the image is much larger than the input)
  and letterboxes the next chunks while the model runs on the current one;
- raw head outputs go through per-class NMS, boxes are mapped back to original image pixels;
- finished chunks are buffered and written as ``part-NNNNNN.parquet`` files (temp name, then
  rename). Each part records in its Parquet metadata which image_ids it completes (also those
  with no detections, and failures with their error), so after a kill the same command only
  processes images without a record. Because chunks are whole and formed the same way, a resumed
  run produces exactly the rows of an uninterrupted one.

Unreadable images (missing, zero bytes, truncated, not an image, more than ``max_pixels``) are
recorded as failures and skipped. At the end ``detect_summary.json`` and
``detect_failures.parquet`` are written beside ``detections/``.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections import deque
from collections.abc import Iterator
from itertools import islice
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from detector.detections import Detections, empty_frame
from detector.errors import DetectorInputError
from detector.schemas import DETECTIONS, table_from_frame
from detector.io import atomic_path
from detector.registry import ResolvedModel
from detector.slicing import merge_tile_detections, tile_windows

DETECTIONS_DIR = "detections"
SUMMARY_FILE = "detect_summary.json"
FAILURES_FILE = "detect_failures.parquet"
META_KEY = b"camcensus"
PAD_VALUE = 114  # grey of the letterbox border, as ultralytics


# ----------------------------------------------------------------------------- image loading


class ImageError(Exception):
    """An image that cannot be used (reported as a failure, never raised to the user)."""


@dataclass
class Crop:
    """One letterboxed model input cut from an image: pixels (imgsz x imgsz x 3 RGB uint8), the
    scale ``ratio`` (input px per image px), ``pad`` (left, top) and the crop's ``shape``
    (height, width) and ``offset`` (x, y) in the image."""

    pixels: np.ndarray
    ratio: float
    pad: tuple[int, int]
    shape: tuple[int, int]
    offset: tuple[int, int]


@dataclass
class LoadedImage:
    image_id: str
    crops: list[Crop] = field(default_factory=list)
    error: str | None = None


def letterbox(image: np.ndarray, imgsz: int) -> tuple[np.ndarray, float, tuple[int, int]]:
    """Resize keeping the aspect ratio and pad to ``imgsz`` square (ultralytics' LetterBox with
    auto=False); returns pixels, ratio and (left, top) padding in pixels."""
    import cv2

    height, width = image.shape[:2]
    ratio = min(imgsz / height, imgsz / width)
    new_w, new_h = round(width * ratio), round(height * ratio)
    if (new_w, new_h) != (width, height):
        image = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    dw, dh = (imgsz - new_w) / 2, (imgsz - new_h) / 2
    top, bottom = round(dh - 0.1), round(dh + 0.1)
    left, right = round(dw - 0.1), round(dw + 0.1)
    if top or bottom or left or right:
        image = cv2.copyMakeBorder(
            image,
            top,
            bottom,
            left,
            right,
            cv2.BORDER_CONSTANT,
            value=(PAD_VALUE, PAD_VALUE, PAD_VALUE),
        )
    return np.ascontiguousarray(image), ratio, (left, top)


def read_image(
    path: str | Path, *, max_pixels: int, draft_to: int | None = None
) -> tuple[np.ndarray, tuple[int, int]]:
    """Decode an image file to RGB uint8 (EXIF orientation applied); also return the image's full
    (height, width) in pixels.

    ``draft_to``: let JPEG decoding shrink by 2/4/8 in the DCT domain while the result stays at
    least ``draft_to`` px on its long side (much faster for large photos). Raises ImageError."""
    from PIL import Image, ImageOps

    path = Path(path)
    try:
        n_bytes = path.stat().st_size
    except OSError as error:
        raise ImageError(f"unreadable: {error.strerror or error}") from None
    if n_bytes == 0:
        raise ImageError("empty file (0 bytes)")
    try:
        opened = Image.open(path)
    except Image.DecompressionBombError as error:
        raise ImageError(f"too large: {error}") from None
    except Exception:  # UnidentifiedImageError, or ultralytics' HEIF fallback failing on it
        raise ImageError("not an image (unknown or corrupt format)") from None
    try:
        with opened as image:
            width, height = image.size
            if width * height > max_pixels:
                raise ImageError(
                    f"too large: {width}x{height} px is over the {max_pixels} px limit"
                )
            if image.getexif().get(0x0112, 1) in (5, 6, 7, 8):  # rotated by 90 degrees
                width, height = height, width
            if draft_to and image.format == "JPEG" and max(width, height) >= 2 * draft_to:
                scale = draft_to / max(width, height)
                short = math.ceil(min(width, height) * scale)  # orientation-free request
                image.draft("RGB", (short, short))
            image = ImageOps.exif_transpose(image)
            pixels = np.asarray(image.convert("RGB"))
    except ImageError:
        raise
    except Image.DecompressionBombError as error:
        raise ImageError(f"too large: {error}") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise ImageError(f"corrupt image: {error}") from None
    return pixels, (height, width)


def load_image(
    image_id: str, path: str, *, imgsz: int, slicing: tuple[int, float] | None, max_pixels: int
) -> LoadedImage:
    """Decode one image and cut it into letterboxed model inputs: the whole image, then tiles."""
    try:
        pixels, original = read_image(
            path, max_pixels=max_pixels, draft_to=None if slicing else imgsz
        )
    except ImageError as error:
        return LoadedImage(image_id, error=str(error))
    except Exception as error:  # anything else a decoder throws: report, never stop the batch
        return LoadedImage(image_id, error=f"{type(error).__name__}: {error}")
    return LoadedImage(
        image_id, crops=crops_from_pixels(pixels, original, imgsz=imgsz, slicing=slicing)
    )


def crops_from_pixels(
    pixels: np.ndarray, original: tuple[int, int], *, imgsz: int, slicing: tuple[int, float] | None
) -> list[Crop]:
    """Letterboxed inputs for one decoded image; ``original`` (height, width) is the file's size
    (``pixels`` may be smaller after JPEG draft decoding; boxes map back to ``original``)."""
    height, width = original
    whole, ratio, pad = letterbox(pixels, imgsz)
    if pixels.shape[:2] != (
        height,
        width,
    ):  # drafted: recompute the ratio against the original size
        ratio = min(imgsz / height, imgsz / width)
    crops = [Crop(whole, ratio, pad, (height, width), (0, 0))]
    if slicing is None:
        return crops
    for x, y, w, h in tile_windows(height, width, *slicing):
        tile_pixels, tile_ratio, tile_pad = letterbox(pixels[y : y + h, x : x + w], imgsz)
        crops.append(Crop(tile_pixels, tile_ratio, tile_pad, (h, w), (x, y)))
    return crops


# ----------------------------------------------------------------------------- model backends


class Backend(Protocol):
    """A loaded model: ``forward`` maps uint8 NHWC RGB inputs to the raw YOLO head output
    (B, 4 + nc, A) in input pixels; ``names`` maps class ids to names."""

    names: dict[int, str]
    imgsz: int | None  # the size it was trained or exported at, if known
    device: str
    precision: str

    def forward(self, batch: np.ndarray) -> Any: ...


def pick_device(device: str = "auto") -> str:
    """``auto`` -> ``cuda`` if available, then ``mps``, then ``cpu``; anything else as given."""
    if device != "auto":
        return device
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def fast_bf16_cpu() -> bool:
    """Whether this CPU computes bfloat16 natively (AMX or AVX512-BF16; Linux only)."""
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def pick_precision(precision: str, device: str) -> str:
    """``auto`` -> fp16 on CUDA, bf16 on CPUs with native bfloat16, else fp32."""
    if precision not in ("auto", "fp32", "fp16", "bf16"):
        raise DetectorInputError(f"--precision must be auto, fp32, fp16 or bf16, got {precision!r}")
    if precision != "auto":
        return precision
    if device.startswith("cuda"):
        return "fp16"
    return "bf16" if device == "cpu" and fast_bf16_cpu() else "fp32"


class TorchBackend:
    """An ultralytics ``.pt`` model run directly: fused, eval, inference mode, channels-last.

    ``precision``: ``auto`` runs the network in fp16 on CUDA and in bf16 on CPUs with native
    bfloat16 (AMX / AVX512-BF16; about 2x fp32 there), fp32 elsewhere; the box decoding of the
    head always runs in fp32, so reduced precision moves boxes by about 0.1 px, not by the
    coarse steps of a 16-bit pixel coordinate. Sets torch's intra-op threads to ``threads``
    (default: CPU count; importing ultralytics before torch leaves it at 1 on small machines),
    which also keeps results bit-identical between processes."""

    def __init__(
        self,
        path: str | Path,
        *,
        device: str = "auto",
        precision: str = "auto",
        threads: int | None = None,
    ) -> None:
        import torch
        from ultralytics import YOLO

        torch.set_num_threads(max(1, threads or os.cpu_count() or 1))
        self.device = pick_device(device)
        self.precision = pick_precision(precision, self.device)
        yolo = YOLO(str(path))
        self.names = {int(k): str(v) for k, v in yolo.names.items()}
        args = (getattr(yolo, "ckpt", None) or {}).get("train_args", {}) or {}
        imgsz = args.get("imgsz") or yolo.overrides.get("imgsz")
        self.imgsz = int(imgsz if isinstance(imgsz, int) else max(imgsz)) if imgsz else None
        net = yolo.model.fuse(verbose=False) if hasattr(yolo.model, "fuse") else yolo.model
        net = net.eval().float().to(self.device)
        for param in net.parameters():
            param.requires_grad_(False)
        self.dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[
            self.precision
        ]
        if self.dtype != torch.float32:
            net = net.to(self.dtype)
            _decode_in_fp32(net)
        self.channels_last = self.device != "mps"
        if self.channels_last:
            net = net.to(memory_format=torch.channels_last)
        self.net = net
        self._torch = torch

    def forward(self, batch: np.ndarray) -> Any:
        torch = self._torch
        x = torch.from_numpy(batch).to(self.device, non_blocking=True).permute(0, 3, 1, 2)
        x = x.to(self.dtype)  # NHWC memory seen as NCHW: channels-last strides, kept by .to()
        if not self.channels_last:
            x = x.contiguous()
        x /= 255.0
        with torch.inference_mode():
            y = self.net(x)
        if isinstance(y, dict):
            y = next(iter(y.values()))
        if isinstance(y, (list, tuple)):
            y = y[0]
        return y.float()


def _decode_in_fp32(net: Any) -> None:
    """Let the detect head decode boxes in fp32 (DFL, anchors, strides) after 16-bit convs."""
    import torch

    head = net.model[-1]
    if not hasattr(head, "_inference") or not hasattr(head, "dfl"):
        return
    head.dfl.float()
    decode = head._inference

    def decode_fp32(preds: dict) -> Any:
        return decode(
            {
                k: v.float()
                if torch.is_tensor(v)
                else [t.float() for t in v]
                if isinstance(v, list)
                else v
                for k, v in preds.items()
            }
        )

    head._inference = decode_fp32


def load_backend(
    model: ResolvedModel,
    *,
    device: str = "auto",
    precision: str = "auto",
    threads: int | None = None,
) -> Backend:
    """The backend for a resolved model's kind (torch, ONNX Runtime or OpenVINO); ``threads``:
    intra-op threads of the runtime (default: CPU count); ``precision`` (torch only, see
    ``TorchBackend``; OpenVINO takes it as its inference precision hint, "auto" its default)."""
    if model.kind == "pt":
        return TorchBackend(model.path, device=device, precision=precision, threads=threads)
    from detector.export import OnnxBackend, OpenVinoBackend

    if model.kind == "onnx":
        return OnnxBackend(model.path, device=device, threads=threads)
    return OpenVinoBackend(model.path, device=device, threads=threads, precision=precision)


# ----------------------------------------------------------------------------- chunk inference


@dataclass
class ChunkResult:
    """What one chunk of images gave: detection rows, image_ids done, failures (id, error)."""

    frame: pd.DataFrame
    done: list[str]
    failed: list[tuple[str, str]]


@dataclass(frozen=True)
class DetectOptions:
    """Inference settings: ``imgsz`` px, thresholds, tiles, decode limits."""

    imgsz: int
    conf: float
    iou: float
    batch: int
    slicing: tuple[int, float] | None = None
    max_det: int = 300
    max_pixels: int = 100_000_000


def detect_loaded(
    backend: Backend, loaded: list[LoadedImage], *, options: DetectOptions, model_id: str
) -> ChunkResult:
    """Run the model on decoded images (forward in pieces of ``options.batch`` inputs) and turn
    head outputs into rows in original pixels; tiles are merged with the whole-image pass."""
    good = [item for item in loaded if item.error is None]
    failed = [(item.image_id, item.error) for item in loaded if item.error is not None]
    crops = [(i, crop) for i, item in enumerate(good) for crop in item.crops]
    per_image: list[list[Detections]] = [[] for _ in good]
    for start in range(0, len(crops), options.batch):
        piece = crops[start : start + options.batch]
        head = backend.forward(np.stack([crop.pixels for _, crop in piece]))
        found = Detections.from_yolo_output(
            head, conf=options.conf, iou=options.iou, max_det=options.max_det
        )
        for (i, crop), dets in zip(piece, found):
            per_image[i].append(
                dets.unletterbox(
                    ratio=crop.ratio, pad=crop.pad, shape=crop.shape, offset=crop.offset
                )
            )
    frames = []
    for item, parts in zip(good, per_image):
        dets = merge_tile_detections(parts)
        if len(dets):
            frames.append(
                dets.to_frame(image_id=item.image_id, class_names=backend.names, model_id=model_id)
            )
    frame = pd.concat(frames, ignore_index=True) if frames else empty_frame()
    return ChunkResult(frame, [item.image_id for item in good], failed)


def chunks_of(images: pd.DataFrame, size: int) -> Iterator[pd.DataFrame]:
    """Consecutive chunks of ``size`` rows."""
    for start in range(0, len(images), size):
        yield images.iloc[start : start + size]


def results_local(
    backend: Backend,
    pending: pd.DataFrame,
    *,
    options: DetectOptions,
    model_id: str,
    workers: int,
    streams: int = 1,
    prefetch: int = 2,
) -> Iterator[ChunkResult]:
    """Chunk results in order. ``workers`` threads decode the next chunks while ``streams``
    threads run the model on earlier ones (torch, ONNX Runtime and OpenVINO release the GIL),
    at most ``streams + prefetch`` chunks in flight."""
    import cv2

    cv2.setNumThreads(1)
    with (
        ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="decode") as decode,
        ThreadPoolExecutor(max_workers=max(1, streams), thread_name_prefix="infer") as infer,
    ):

        def run(futures: list) -> ChunkResult:
            loaded = [future.result() for future in futures]
            return detect_loaded(backend, loaded, options=options, model_id=model_id)

        def submit(chunk: pd.DataFrame) -> Any:
            futures = [
                decode.submit(load_image, image_id, path, imgsz=options.imgsz, slicing=options.slicing,
                              max_pixels=options.max_pixels)
                for image_id, path in zip(chunk["image_id"], chunk["path"])
            ]
            return infer.submit(run, futures)

        chunks = chunks_of(pending, options.batch)
        inflight: deque = deque(submit(chunk) for chunk in islice(chunks, max(1, streams) + prefetch))
        while inflight:
            result = inflight.popleft().result()
            following = next(chunks, None)
            if following is not None:
                inflight.append(submit(following))
            yield result


# ----------------------------------------------------------------------------- part files


@contextmanager
def exclusive_lock(directory: Path) -> Iterator[None]:
    """Hold ``directory/.lock`` (flock) so two jobs never write parts into one folder; the OS
    drops the lock when the process dies, so a killed job never blocks its rerun."""
    directory.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # no flock on this platform: run unguarded
        yield
        return
    with open(directory / ".lock", "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DetectorInputError(
                f"another detect job is writing to {directory}; wait for it or use another --out"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class PartStore:
    """``detections/part-NNNNNN.parquet`` files; each carries in its Parquet metadata the
    image_ids it completes (``done``), its failures and the model id."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        for stale in self.directory.glob(".part-*.tmp*"):  # left by a killed run
            stale.unlink(missing_ok=True)
        self.records = [self.read_record(p) for p in self.parts()]
        self.next_index = 1 + max((int(p.stem.split("-")[1]) for p in self.parts()), default=-1)

    def parts(self) -> list[Path]:
        return sorted(self.directory.glob("part-*.parquet"))

    @staticmethod
    def read_record(path: Path) -> dict[str, Any]:
        import pyarrow.parquet as pq

        meta = pq.read_schema(path).metadata or {}
        record = json.loads(meta.get(META_KEY, b"{}"))
        record.setdefault("done", [])
        record.setdefault("failed", [])
        record["rows"] = pq.read_metadata(path).num_rows
        return record

    def done_ids(self) -> set[str]:
        return {i for r in self.records for i in r["done"]} | {
            i for r in self.records for i, _ in r["failed"]
        }

    def model_ids(self) -> set[str]:
        return {r["model_id"] for r in self.records if r.get("model_id")}

    def write(
        self, frame: pd.DataFrame, *, done: list[str], failed: list[tuple[str, str]], model_id: str
    ) -> Path:
        """Write one part atomically (temp name in the same folder, then rename)."""
        import pyarrow.parquet as pq

        table = table_from_frame(frame if len(frame) else empty_frame(), DETECTIONS, what="detections")
        record = {"model_id": model_id, "done": list(done), "failed": [list(f) for f in failed]}
        table = table.replace_schema_metadata(
            {**(table.schema.metadata or {}), META_KEY: json.dumps(record).encode()}
        )
        path = self.directory / f"part-{self.next_index:06d}.parquet"
        with atomic_path(path) as tmp:
            pq.write_table(table, tmp)
            with open(tmp, "rb") as handle:
                os.fsync(handle.fileno())
        self.next_index += 1
        self.records.append({**record, "rows": len(frame)})
        return path


class PartWriter:
    """Buffers chunk results and writes a part every ``part_images`` images or ``flush_s``
    seconds (always whole chunks)."""

    def __init__(
        self, store: PartStore, *, model_id: str, part_images: int, flush_s: float
    ) -> None:
        self.store, self.model_id = store, model_id
        self.part_images, self.flush_s = part_images, flush_s
        self.buffer: list[ChunkResult] = []
        self.last_flush = time.monotonic()

    def add(self, result: ChunkResult) -> None:
        self.buffer.append(result)
        n = sum(len(r.done) + len(r.failed) for r in self.buffer)
        if n >= self.part_images or time.monotonic() - self.last_flush >= self.flush_s:
            self.flush()

    def flush(self) -> None:
        if self.buffer:
            frames = [r.frame for r in self.buffer if len(r.frame)]
            self.store.write(
                pd.concat(frames, ignore_index=True) if frames else empty_frame(),
                done=[i for r in self.buffer for i in r.done],
                failed=[f for r in self.buffer for f in r.failed],
                model_id=self.model_id,
            )
            self.buffer = []
        self.last_flush = time.monotonic()


def read_detections(out: str | Path) -> pd.DataFrame:
    """All detection rows under ``OUT/detections`` (or a detections folder itself)."""
    directory = Path(out)
    if directory.name != DETECTIONS_DIR:
        directory = directory / DETECTIONS_DIR
    parts = sorted(directory.glob("part-*.parquet"))
    if not parts:
        return empty_frame()
    return pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)
