"""Benchmark of batch detection, images per second, all methods in one run on the same model:

1. plain ``YOLO(weights).predict(paths, batch=B, stream=True)`` (the baseline),
2. the raw model forward on already preprocessed tensors (fused, fp32 NCHW, as predict runs it),
   and (2b) the engine's own torch backend forward (its precision, channels-last) on them,
3. ``camcensus detect`` (``detector.detect.detect_images``) with torch,
4. ``camcensus detect`` with the ONNX Runtime export (and 4b with OpenVINO when installed).

Images: N generated 640x640 JPEGs (drawn objects on noise). Model: ``--model`` (a name in
models/ or a .pt), default an untrained ``yolo11n.yaml`` with 2 classes (same architecture, so
the same cost). Every method runs with the same torch threads (the CPU count) after a warm-up;
``--repeat`` runs the whole set several times and reports medians, since shared machines are
noisy. Run: ``python -m scripts.bench.detect --n 200 --repeat 3``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import detector  # noqa: F401  (offline ultralytics before importing it)


def make_images(folder: Path, n: int, size: int = 640, seed: int = 0) -> list[str]:
    """N JPEGs of ``size`` px with a few dark discs and boxes on a noisy background."""
    import cv2
    import numpy as np

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        image = rng.integers(120, 200, (size, size, 3), dtype=np.uint8)
        for _ in range(int(rng.integers(1, 4))):
            side = int(rng.integers(8, 60))
            x, y = (int(v) for v in rng.integers(0, size - side, 2))
            if rng.random() < 0.5:
                cv2.circle(image, (x + side // 2, y + side // 2), side // 2, (30, 30, 30), -1)
            else:
                cv2.rectangle(image, (x, y), (x + side, y + side // 2), (20, 20, 20), -1)
        path = folder / f"img{i:05d}.jpg"
        cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, 90])
        paths.append(str(path))
    return paths


def untrained_model(path: Path) -> Path:
    """yolo11n.yaml with classes dome/directed, random weights, saved as a .pt."""
    from ultralytics import YOLO
    from ultralytics.nn.tasks import DetectionModel

    yolo = YOLO("yolo11n.yaml")
    yolo.model = DetectionModel("yolo11n.yaml", nc=2, verbose=False)
    yolo.model.names = {0: "dome", 1: "directed"}
    yolo.save(str(path))
    return path


def bench_predict(weights: Path, paths: list[str], *, batch: int, imgsz: int, conf: float) -> float:
    from ultralytics import YOLO

    model = YOLO(str(weights))
    for _ in model.predict(
        paths[:batch], batch=batch, imgsz=imgsz, conf=conf, stream=True, verbose=False
    ):
        pass  # warm-up (predictor set-up, first-call kernels)
    start = time.perf_counter()
    n = sum(
        1
        for _ in model.predict(
            paths, batch=batch, imgsz=imgsz, conf=conf, stream=True, verbose=False
        )
    )
    return n / (time.perf_counter() - start)


def bench_forward(weights: Path, paths: list[str], *, batch: int, imgsz: int, device: str) -> float:
    """Model forward only; letterboxing and tensor conversion are done before the clock starts."""
    import numpy as np
    import torch
    from ultralytics import YOLO

    from detector.engine import letterbox, read_image

    net = YOLO(str(weights)).model.fuse(verbose=False).eval().to(device)
    half = device.startswith("cuda")
    net = net.half() if half else net.float()
    pixels = np.stack([letterbox(read_image(p, max_pixels=10**9)[0], imgsz)[0] for p in paths])
    tensors = []
    for start in range(0, len(paths), batch):
        x = (
            torch.from_numpy(pixels[start : start + batch])
            .permute(0, 3, 1, 2)
            .contiguous()
            .to(device)
        )
        tensors.append((x.half() if half else x.float()) / 255)
    with torch.inference_mode():
        net(tensors[0])
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        start = time.perf_counter()
        for x in tensors:
            net(x)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
    return len(paths) / (time.perf_counter() - start)


def bench_backend_forward(
    weights: Path, paths: list[str], *, batch: int, imgsz: int, device: str
) -> float:
    """The engine's torch backend (its precision and memory format) on preprocessed uint8 batches."""
    import numpy as np

    from detector.engine import TorchBackend, letterbox, read_image

    backend = TorchBackend(weights, device=device)
    pixels = np.stack([letterbox(read_image(p, max_pixels=10**9)[0], imgsz)[0] for p in paths])
    backend.forward(pixels[:batch])
    start = time.perf_counter()
    for i in range(0, len(paths), batch):
        backend.forward(pixels[i : i + batch]).cpu()
    return len(paths) / (time.perf_counter() - start)


def bench_detect(
    model: Path,
    folder: Path,
    out: Path,
    *,
    batch: int,
    imgsz: int,
    conf: float,
    device: str,
    workers: int | None,
) -> float:
    """camcensus detect; the rate is its own steady loop (decode, inference, NMS, part files)."""
    from detector.detect import detect_images

    shutil.rmtree(out, ignore_errors=True)
    warm = out.with_name(out.name + "-warm")
    shutil.rmtree(warm, ignore_errors=True)
    (warm / "src").mkdir(parents=True)
    for path in sorted(folder.iterdir())[:batch]:
        shutil.copyfile(path, warm / "src" / path.name)
    detect_images(
        warm / "src",
        model=model,
        out=warm / "out",
        batch=batch,
        imgsz=imgsz,
        conf=conf,
        device=device,
        workers=workers,
        progress=False,
    )
    summary = detect_images(
        folder,
        model=model,
        out=out,
        batch=batch,
        imgsz=imgsz,
        conf=conf,
        device=device,
        workers=workers,
        progress=False,
    )
    return float(summary["images_per_second"])


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=200, help="images (640x640), default 200")
    parser.add_argument("--batch", type=int, default=16, help="batch size for every method, default 16")
    parser.add_argument("--imgsz", type=int, default=640, help="model input size, px, default 640")
    parser.add_argument("--conf", type=float, default=0.25, help="confidence threshold, default 0.25")
    parser.add_argument("--model", default=None, help="models/ name or .pt; default untrained yolo11n (2 classes)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda, default auto")
    parser.add_argument("--workers", type=int, default=None, help="decode threads of camcensus detect")
    parser.add_argument("--repeat", type=int, default=1, help="repeat everything and report medians")
    parser.add_argument("--skip", default="",
                        help="comma list of methods to skip: predict,forward,forward-engine,torch,onnx,openvino")
    parser.add_argument("--workdir", type=Path, default=None, help="scratch folder (default: a temp dir)")
    return parser.parse_args()


def _exports(weights: Path, work: Path, *, imgsz: int, skip: set[str]) -> tuple[Path | None, Path | None]:
    """The ONNX and OpenVINO exports of ``weights`` (None where skipped; OpenVINO is skipped, and
    added to ``skip``, when it is not installed)."""
    from detector.export import export_model

    onnx = openvino = None
    if "onnx" not in skip:
        onnx = export_model(weights, format="onnx", imgsz=imgsz, out=work / "bench.onnx").path
    if "openvino" not in skip:
        try:
            import importlib

            importlib.import_module("openvino")  # only to know it is installed
            openvino = export_model(weights, format="openvino", imgsz=imgsz, out=work / "bench_openvino_model").path
        except ImportError:
            skip.add("openvino")
    return onnx, openvino


def _methods(args: argparse.Namespace, weights: Path, onnx: Path | None, openvino: Path | None, paths: list[str],
             folder: Path, work: Path, device: str) -> dict:
    """Method key -> (label, a call returning images/s)."""
    def detect(model: Path | None, name: str):
        return lambda: bench_detect(model, folder, work / f"out-{name}", batch=args.batch, imgsz=args.imgsz,
                                    conf=args.conf, device=device, workers=args.workers)

    return {
        "predict": ("1 YOLO.predict(stream=True)",
                    lambda: bench_predict(weights, paths, batch=args.batch, imgsz=args.imgsz, conf=args.conf)),
        "forward": ("2 raw forward, preprocessed",
                    lambda: bench_forward(weights, paths, batch=args.batch, imgsz=args.imgsz, device=device)),
        "forward-engine": ("2b forward, engine backend, 1 stream",
                           lambda: bench_backend_forward(weights, paths, batch=args.batch, imgsz=args.imgsz,
                                                         device=device)),
        "torch": ("3 camcensus detect, torch", detect(weights, "torch")),
        "onnx": ("4 camcensus detect, ONNX Runtime", detect(onnx, "onnx")),
        "openvino": ("4b camcensus detect, OpenVINO", detect(openvino, "openvino")),
    }


def _report(args: argparse.Namespace, methods: dict, rates: dict[str, list[float]], *, device: str,
            threads: int) -> None:
    median = {key: statistics.median(values) for key, values in rates.items()}
    base = median.get("predict")
    print(f"\n{args.n} images 640x640, batch {args.batch}, imgsz {args.imgsz}, device {device}, "
          f"{threads} CPU threads, median of {args.repeat}")
    print(f"{'method':<36} {'img/s':>8} {'x (1)':>7}  runs")
    for key, value in median.items():
        ratio = f"{value / base:.2f}" if base else "-"
        runs = " ".join(f"{v:.2f}" for v in rates[key])
        print(f"{methods[key][0]:<36} {value:8.2f} {ratio:>7}  {runs}")
    if "torch" in median and "forward" in median:
        print(f"(3) / (2) = {median['torch'] / median['forward']:.2f}")


def main() -> None:
    args = _arguments()
    import torch

    from detector.engine import pick_device
    from detector.registry import resolve_model

    threads = os.cpu_count() or 1
    torch.set_num_threads(threads)  # importing ultralytics first may have left torch at 1 thread
    device = pick_device(args.device)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="camcensus-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    folder = work / "images"
    paths = sorted(str(p) for p in folder.glob("*.jpg")) if folder.is_dir() else []
    if len(paths) != args.n:
        shutil.rmtree(folder, ignore_errors=True)
        paths = make_images(folder, args.n)
    weights = resolve_model(args.model).path if args.model else untrained_model(work / "bench.pt")
    skip = set(filter(None, args.skip.split(",")))
    onnx, openvino = _exports(weights, work, imgsz=args.imgsz, skip=skip)
    methods = _methods(args, weights, onnx, openvino, paths, folder, work, device)
    rates: dict[str, list[float]] = {key: [] for key in methods if key not in skip}
    for run in range(args.repeat):
        for key in rates:
            torch.set_num_threads(threads)
            rates[key].append(methods[key][1]())
            print(f"run {run + 1}/{args.repeat} {methods[key][0]}: {rates[key][-1]:.2f} img/s", flush=True)
    _report(args, methods, rates, device=device, threads=threads)
    if args.workdir is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
