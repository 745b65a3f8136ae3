"""The detect stage: ``detect_images`` runs the local engine or the Ray adapter over an image set.

It lists the source, skips images already done, writes part files through the engine core
(``detector.engine``) and ends with ``detect_summary.json`` and ``detect_failures.parquet``.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from detector.engine import (
    DETECTIONS_DIR,
    FAILURES_FILE,
    SUMMARY_FILE,
    ChunkResult,
    DetectOptions,
    PartStore,
    PartWriter,
    exclusive_lock,
    load_backend,
    pick_device,
    results_local,
)
from detector.errors import DetectorInputError
from detector.schemas import DETECT_FAILURES, table_from_frame
from detector.io import atomic_path, write_text
from detector.registry import (
    ResolvedModel,
    model_at_operating_point,
    model_imgsz,
    operating_point_of,
    resolve_model,
)
from detector.slicing import parse_slice
from detector.sources import images_from_source

# ----------------------------------------------------------------------------- progress


class ProgressReporter:
    """A rich progress bar (images, img/s, ETA) on a terminal; plain lines every ``every_s``
    seconds otherwise (on stderr)."""

    def __init__(
        self,
        total: int,
        *,
        enabled: bool = True,
        tty: bool | None = None,
        every_s: float = 10.0,
        stream: Any = None,
    ) -> None:
        self.total, self.count, self.every_s, self.enabled = total, 0, every_s, enabled
        self.stream = stream or sys.stderr
        self.start = self.last = time.monotonic()
        tty = enabled and (tty if tty is not None else self.stream.isatty())
        self.bar = None
        if tty and total:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self.bar = Progress(
                TextColumn("detect"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]:>8} img/s"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=Console(file=self.stream),
                transient=False,
            )
            self.task = self.bar.add_task("detect", total=total, rate="-")
            self.bar.start()

    def advance(self, n: int) -> None:
        self.count += n
        now = time.monotonic()
        rate = self.count / max(now - self.start, 1e-9)
        if self.bar is not None:
            self.bar.update(self.task, advance=n, rate=f"{rate:.1f}")
        elif self.enabled and now - self.last >= self.every_s:
            self.last = now
            eta = (self.total - self.count) / rate if rate > 0 else float("inf")
            print(
                f"detect: {self.count}/{self.total} images, {rate:.1f} img/s, ETA {_duration(eta)}",
                file=self.stream,
                flush=True,
            )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


# ----------------------------------------------------------------------------- public entry


def detect_images(
    source: str | Path,
    *,
    model: str | Path | ResolvedModel,
    out: str | Path | None = None,
    device: str = "auto",
    precision: str = "auto",
    batch: int = 16,
    conf: float | None = None,
    iou: float = 0.7,
    imgsz: int | None = None,
    slice: str | None = None,
    workers: int | None = None,
    streams: int | None = None,
    engine: str = "local",
    address: str | None = None,
    part_images: int = 1024,
    flush_s: float = 60.0,
    max_pixels: int = 100_000_000,
    max_det: int = 300,
    progress: bool | None = None,
    models_dir: Path | None = None,
) -> dict[str, Any]:
    """Detect cameras on every image of ``source``; write ``OUT/detections/part-*.parquet``,
    ``OUT/detect_summary.json`` and ``OUT/detect_failures.parquet``; return the summary.

    ``source``: survey dir (OUT defaults to it), folder, glob or text file of paths. ``precision``:
    auto, fp32, fp16 or bf16 for .pt models (see ``TorchBackend``). ``model``: a
    models/ name, a ``.pt``, ``.onnx`` or ``*_openvino_model``. ``conf`` defaults to the card's
    operating threshold (else 0.25), ``imgsz`` (px) to the card's, else the size in the model's
    own metadata, else 640. ``batch``: images per chunk and inputs per forward pass. ``slice``:
    ``"SIZE:OVERLAP"`` tiles (px, fraction) merged with the whole image. ``workers``: decoding
    threads (default min(4, CPUs)). ``streams``: concurrent model runs (default: one per CPU core,
    each single-threaded, on a CPU; one on a GPU). ``progress``: None or True shows a bar on a
    terminal and plain lines otherwise, False nothing. Rerunning resumes. A model named by the
    registry (not a path) with ``precision`` auto runs at its card's operating point
    (``extra.operating_point``: size, backend, format; ``registry.model_at_operating_point``), with
    a one-line note on stderr when that backend's export or runtime is missing."""
    started = time.monotonic()
    if batch < 1:
        raise DetectorInputError(f"--batch must be >= 1, got {batch}")
    if engine not in ("local", "ray"):
        raise DetectorInputError(f"--engine must be local or ray, got {engine!r}")
    slicing = parse_slice(slice)
    resolved = (
        model
        if isinstance(model, ResolvedModel)
        else resolve_model(str(model), models_dir=models_dir)
    )
    note = None
    if precision == "auto" and not isinstance(model, ResolvedModel) and not Path(str(model)).exists():
        # a model named by the registry runs at its card's operating point (backend and format)
        resolved, precision, note = model_at_operating_point(resolved)
        if note:
            print(f"note: {note}", file=sys.stderr)
    src = images_from_source(source)
    if out is None:
        if src.kind != "survey":
            raise DetectorInputError("--out DIR is required when SOURCE is not a survey directory")
        out = src.root
    out = Path(out)
    card = resolved.card
    conf = conf if conf is not None else (card.conf if card else 0.25)
    options = DetectOptions(
        imgsz=imgsz or operating_point_of(resolved).get("imgsz") or (card.imgsz if card else None)
        or model_imgsz(resolved) or 640,
        conf=conf,
        iou=iou,
        batch=batch,
        slicing=slicing,
        max_det=max_det,
        max_pixels=max_pixels,
    )
    workers = workers if workers is not None else min(4, os.cpu_count() or 1)
    with exclusive_lock(out / DETECTIONS_DIR):
        store = PartStore(out / DETECTIONS_DIR)
        others = store.model_ids() - {resolved.model_id}
        if others:
            raise DetectorInputError(
                f"{out / DETECTIONS_DIR} already holds detections of model "
                f"{min(others)!r}; use another --out or remove that folder"
            )
        pending = src.images[~src.images["image_id"].isin(store.done_ids())].reset_index(drop=True)
        writer = PartWriter(
            store, model_id=resolved.model_id, part_images=max(part_images, batch), flush_s=flush_s
        )
        reporter = ProgressReporter(len(pending), enabled=progress is not False)
        run = {
            "device": pick_device(device) if resolved.kind == "pt" else device,
            "precision": precision,
            "processed": 0,
            "started": time.monotonic(),
        }
        try:
            if len(pending):
                for result in _results(
                    resolved,
                    pending,
                    options=options,
                    engine=engine,
                    device=device,
                    precision=precision,
                    workers=workers,
                    streams=streams,
                    address=address,
                    run=run,
                ):
                    writer.add(result)
                    n = len(result.done) + len(result.failed)
                    run["processed"] += n
                    reporter.advance(n)
        finally:
            writer.flush()
            reporter.close()
        detect_seconds = time.monotonic() - run["started"]
        # issue 26 (look test, unseen4 hook): look statistics of a fixed sample of the images (look.parquet), which
        # the estimate's card check compares with the card's held-out images (detector.look); timed apart
        from detector.look import write_survey_look

        look_clock = time.monotonic()
        write_survey_look(out, src.images, workers=workers)
        look_seconds = round(time.monotonic() - look_clock, 3)
        return summarize(
            out,
            src.images,
            store,
            model=resolved,
            device=run["device"],
            precision=run["precision"],
            engine=engine,
            options=dict(batch=batch, conf=conf, iou=iou, imgsz=options.imgsz, slice=slice, look_seconds=look_seconds),
            processed=run["processed"],
            seconds=detect_seconds,
            total_seconds=time.monotonic() - started,
        )


def _results(
    model: ResolvedModel,
    pending: pd.DataFrame,
    *,
    options: DetectOptions,
    engine: str,
    device: str,
    precision: str,
    workers: int,
    streams: int | None,
    address: str | None,
    run: dict[str, Any],
) -> Iterator[ChunkResult]:
    """Chunk results of the chosen engine; records the device and precision used in ``run`` and
    restarts its clock once the model is loaded.

    On a CPU the local engine runs ``streams`` single-threaded model calls side by side rather
    than one call on all cores: no barrier between threads inside every layer, so it scales
    almost linearly and degrades gracefully on a busy machine."""
    if engine == "ray":
        from detector.ray_engine import results_ray

        results, run["device"] = results_ray(
            model,
            pending,
            options=options,
            device=device,
            precision=precision,
            workers=workers,
            address=address,
        )
        return results
    cpus = os.cpu_count() or 1
    on_cpu = pick_device(device) == "cpu"
    streams = max(1, streams or (cpus if on_cpu else 1))
    threads = max(1, cpus // streams) if on_cpu else cpus
    backend = load_backend(model, device=device, precision=precision, threads=threads)
    run.update(device=backend.device, precision=backend.precision, started=time.monotonic())
    return results_local(backend, pending, options=options, model_id=model.model_id,
                         workers=workers, streams=streams)


def summarize(
    out: Path,
    images: pd.DataFrame,
    store: PartStore,
    *,
    model: ResolvedModel,
    device: str,
    precision: str,
    engine: str,
    options: dict[str, Any],
    processed: int,
    seconds: float,
    total_seconds: float,
) -> dict[str, Any]:
    """Write ``detect_summary.json`` and ``detect_failures.parquet`` from all part records."""
    listed = set(images["image_id"])
    ok = {i for r in store.records for i in r["done"]} & listed
    failed = {}
    for r in store.records:
        for image_id, error in r["failed"]:
            if image_id in listed:
                failed[image_id] = error
    paths = dict(zip(images["image_id"], images["path"]))
    failures = pd.DataFrame(
        {
            "image_id": pd.Series(list(failed), dtype=object),
            "path": pd.Series([paths.get(i) for i in failed], dtype=object),
            "error": pd.Series(list(failed.values()), dtype=object),
        }
    )
    with atomic_path(out / FAILURES_FILE) as tmp:
        pq.write_table(table_from_frame(failures, DETECT_FAILURES, what="detect failures"), tmp)
    summary = {
        "images": len(listed),
        "ok": len(ok),
        "failed": len(failed),
        "pending": len(listed) - len(ok) - len(failed),
        "detections": int(sum(r["rows"] for r in store.records)),
        "processed_this_run": processed,
        "seconds": round(seconds, 3),
        "images_per_second": round(processed / seconds, 3) if seconds > 0 and processed else None,
        "total_seconds": round(total_seconds, 3),
        "device": device,
        "precision": precision,
        "engine": engine,
        "model": {"id": model.model_id, "kind": model.kind, "path": str(model.path)},
        **options,
        "parts": len(store.records),
        "failures": [{"image_id": i, "error": e} for i, e in list(failed.items())[:100]],
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    write_text(out / SUMMARY_FILE, json.dumps(summary, indent=2) + "\n")
    return summary



