"""The detection job on Ray Data: same chunks, same model code, same output contract.

The pending images are cut into the same chunks as the local engine (``batch`` images, in
image_id order); a Ray dataset of chunks goes through ``map_batches`` with an actor pool (one
actor per GPU, or CPU actors), each actor holding one loaded model. Actors return one row per
image (its status) plus one per detection; the driver turns them back into ``ChunkResult`` in
chunk order and writes the part files itself, so resuming works exactly as locally.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd

from detector.detections import FRAME_COLUMNS, empty_frame
from detector.engine import (
    ChunkResult,
    DetectOptions,
    chunks_of,
    detect_loaded,
    load_backend,
    load_image,
)
from detector.registry import ResolvedModel


class ChunkDetector:
    """A Ray actor: loads the model once, then detects on chunks (one chunk per call)."""

    def __init__(
        self,
        model: ResolvedModel,
        options: DetectOptions,
        device: str,
        precision: str,
        threads: int,
    ) -> None:
        import detector  # noqa: F401  (offline ultralytics inside the worker too)

        self.backend = load_backend(model, device=device, precision=precision, threads=threads)
        self.model_id = model.model_id
        self.options = options

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """One row per detection (kind "det") and one per image (kind "done" or "failed")."""
        columns: dict[str, list] = {name: [] for name in ROW_COLUMNS}
        for chunk, ids, paths in zip(batch["chunk"], batch["image_ids"], batch["paths"]):
            loaded = [
                load_image(
                    i,
                    p,
                    imgsz=self.options.imgsz,
                    slicing=self.options.slicing,
                    max_pixels=self.options.max_pixels,
                )
                for i, p in zip(ids, paths)
            ]
            result = detect_loaded(
                self.backend, loaded, options=self.options, model_id=self.model_id
            )
            statuses = [(i, "done", "") for i in result.done] + [
                (i, "failed", e) for i, e in result.failed
            ]
            for row in result.frame.itertuples(index=False):
                for name in FRAME_COLUMNS:
                    columns[name].append(getattr(row, name))
                columns["kind"].append("det")
                columns["error"].append("")
                columns["chunk"].append(int(chunk))
            for image_id, kind, error in statuses:
                for name, blank in BLANK.items():
                    columns[name].append(blank)
                columns["image_id"].append(image_id)
                columns["model_id"].append(self.model_id)
                columns["kind"].append(kind)
                columns["error"].append(error)
                columns["chunk"].append(int(chunk))
        out = {
            name: np.asarray(values, dtype=ROW_DTYPES.get(name, object))
            for name, values in columns.items()
        }
        out["device"] = np.asarray([self.backend.device] * len(out["chunk"]), dtype=object)
        return out


ROW_COLUMNS = [*FRAME_COLUMNS, "kind", "error", "chunk"]
ROW_DTYPES = {
    "x1": np.float32,
    "y1": np.float32,
    "x2": np.float32,
    "y2": np.float32,
    "conf": np.float32,
    "class_id": np.int32,
    "chunk": np.int64,
}
BLANK = {"x1": 0.0, "y1": 0.0, "x2": 0.0, "y2": 0.0, "conf": 0.0, "class_id": -1, "class_name": ""}


def _chunk_result(rows: pd.DataFrame) -> ChunkResult:
    dets = rows[rows["kind"] == "det"]
    frame = dets[FRAME_COLUMNS].reset_index(drop=True) if len(dets) else empty_frame()
    frame = frame.astype({"image_id": object, "class_name": object, "model_id": object})
    done = rows.loc[rows["kind"] == "done", "image_id"].tolist()
    failed = list(
        zip(
            rows.loc[rows["kind"] == "failed", "image_id"],
            rows.loc[rows["kind"] == "failed", "error"],
        )
    )
    return ChunkResult(frame, done, failed)


def results_ray(
    model: ResolvedModel,
    pending: pd.DataFrame,
    *,
    options: DetectOptions,
    device: str = "auto",
    precision: str = "auto",
    workers: int = 1,
    address: str | None = None,
    actors: int | None = None,
) -> tuple[Iterator[ChunkResult], str]:
    """Start (or join) Ray and return (chunk results in order, device).

    ``address``: a Ray cluster (``auto``, ``ray://host:10001``); None starts or reuses a local
    instance. One actor per GPU when the cluster has GPUs, else ``actors`` CPU actors (default:
    cluster CPUs // ``workers``, at least 1) with ``workers`` CPUs each."""
    import ray

    if not ray.is_initialized():
        ray.init(address=address, ignore_reinit_error=True, log_to_driver=False)
    resources = ray.cluster_resources()
    gpus = int(resources.get("GPU", 0))
    use_gpu = gpus > 0 and (device in ("auto", "cuda") or device.startswith("cuda:"))
    cpus = int(resources.get("CPU", 1))
    per_actor = max(1, min(workers, cpus))
    n_actors = actors or (gpus if use_gpu else max(1, cpus // per_actor))
    items = [
        {"chunk": i, "image_ids": c["image_id"].tolist(), "paths": c["path"].tolist()}
        for i, c in enumerate(chunks_of(pending, options.batch))
    ]
    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True
    dataset = ray.data.from_items(items, override_num_blocks=max(1, min(len(items), 4 * n_actors)))
    mapped = dataset.map_batches(
        ChunkDetector,
        batch_size=1,
        batch_format="numpy",
        concurrency=n_actors,
        num_gpus=1 if use_gpu else 0,
        num_cpus=0 if use_gpu else per_actor,
        fn_constructor_kwargs=dict(
            model=model,
            options=options,
            device="cuda" if use_gpu else "cpu",
            precision=precision,
            threads=per_actor,
        ),
    )
    device_used = "cuda" if use_gpu else "cpu"

    def iterate() -> Iterator[ChunkResult]:
        buffered: dict[int, pd.DataFrame] = {}
        want = 0
        for arrays in mapped.iter_batches(batch_size=None, batch_format="numpy"):
            block = pd.DataFrame({name: arrays[name] for name in ROW_COLUMNS})
            for chunk, rows in block.groupby("chunk", sort=True):
                buffered[int(chunk)] = (
                    pd.concat([buffered[int(chunk)], rows]) if int(chunk) in buffered else rows
                )
            while want in buffered and _complete(buffered[want], items[want]):
                yield _chunk_result(buffered.pop(want))
                want += 1
        for chunk in sorted(buffered):
            yield _chunk_result(buffered.pop(chunk))

    return iterate(), device_used


def _complete(rows: pd.DataFrame, item: dict[str, Any]) -> bool:
    """Every image of the chunk has its status row."""
    return int((rows["kind"] != "det").sum()) >= len(item["image_ids"])
