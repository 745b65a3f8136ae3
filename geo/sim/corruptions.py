"""Photometric corruptions of rendered views: the evaluation's stand-in for imagery the detector
never saw (after ImageNet-C / COCO-C, Hendrycks & Dietterich 2019).

Each corruption keeps the geometry (boxes stay valid) and has five severities. They are for
evaluation and validation only: training uses ``detector.yolo_dataset.photometric_jitter`` (a
milder, partly different set, with haze and lower-resolution steps of its own since issue 28) and
the renderer's own randomization, never this module, so that a corrupted survey stays a look the
detector never saw.
"""

from __future__ import annotations

import numpy as np

CORRUPTIONS = ("haze", "blur", "noise", "jpeg", "cast", "lowres")
SEVERITIES = (1, 2, 3, 4, 5)


def corrupt(image: np.ndarray, kind: str, *, severity: int = 3, rng: np.random.Generator | None = None) -> np.ndarray:
    """A corrupted copy of a BGR uint8 image. ``kind``: one of :data:`CORRUPTIONS`; ``severity``:
    1 (mild) .. 5 (strong). Deterministic given ``rng`` (noise and cast draws)."""
    import cv2

    if kind not in CORRUPTIONS:
        raise ValueError(f"corruption must be one of {', '.join(CORRUPTIONS)}, got {kind!r}")
    if severity not in SEVERITIES:
        raise ValueError(f"severity must be 1-5, got {severity}")
    rng = rng or np.random.default_rng(0)
    s = severity - 1
    out = image.astype(np.float32)
    if kind == "haze":  # airlight blend, stronger towards the top (distance) of the frame
        amount = (0.15, 0.25, 0.35, 0.45, 0.55)[s]
        h = out.shape[0]
        ramp = np.linspace(1.0, 0.5, h, dtype=np.float32)[:, None, None]
        air = np.array([215, 212, 205], np.float32)
        out = out * (1 - amount * ramp) + air * amount * ramp
    elif kind == "blur":  # defocus / motion-free lens blur, sigma in px
        out = cv2.GaussianBlur(out, (0, 0), (0.8, 1.2, 1.6, 2.0, 2.6)[s])
    elif kind == "noise":  # sensor noise, sigma in grey levels, partly colour
        sigma = (6, 10, 14, 19, 25)[s]
        out = out + rng.normal(0, sigma, size=out.shape).astype(np.float32)
    elif kind == "cast":  # white balance off: per-channel gains and a contrast drop
        gains = (np.array([1.10, 1.00, 0.88]) if rng.random() < 0.5 else np.array([0.86, 0.98, 1.12]))
        gains = 1 + (gains - 1) * (0.6, 0.9, 1.2, 1.5, 1.8)[s]
        contrast = (0.95, 0.9, 0.85, 0.78, 0.7)[s]
        out = (out * gains.astype(np.float32) - 128) * contrast + 128
    elif kind == "lowres":  # a coarser sensor upsampled back to the frame size
        factor = (1.5, 2.0, 2.5, 3.0, 4.0)[s]
        h, w = out.shape[:2]
        small = cv2.resize(out, (max(1, int(w / factor)), max(1, int(h / factor))), interpolation=cv2.INTER_AREA)
        out = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    out = np.clip(out, 0, 255).astype(np.uint8)
    if kind == "jpeg":
        ok, data = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, (30, 20, 14, 10, 7)[s]])
        out = cv2.imdecode(data, cv2.IMREAD_COLOR) if ok else out
    return out


def corruption_from_spec(spec: str) -> tuple[str, int]:
    """``"KIND"`` or ``"KIND:SEVERITY"`` -> (kind, severity); severity defaults to 3."""
    kind, _, sev = spec.partition(":")
    severity = int(sev) if sev else 3
    if kind not in CORRUPTIONS or severity not in SEVERITIES:
        raise ValueError(f"corruption must be KIND[:1-5] with KIND one of {', '.join(CORRUPTIONS)}, got {spec!r}")
    return kind, severity
