"""The wider photometric augmentation of train crops (domain randomization version 2, issue 28).

``dataset synth --randomization 2 --photometric P`` gives a share P of the train crops
:func:`photometric_jitter_wide` instead of ``detector.yolo_dataset.photometric_jitter`` (version
1, round 3's). Training only: the evaluation's corruption set (``geo.sim.corruptions``) is separate
code that training never calls. Geometry, and so every label, is unchanged.
"""

from __future__ import annotations

import numpy as np

# Each step's probability and range (uniform); docs/detector-randomization.md copies them.
WIDE_PHOTOMETRIC = {
    "haze": (0.35, (0.05, 0.5)),  # blend towards a light colour, stronger at the top
    "cast": (0.6, (0.7, 1.3)),  # per-channel gain ...
    "contrast": (0.6, (0.6, 1.1)),  # ... with a contrast scale (same step) ...
    "black": (0.6, (0.0, 25.0)),  # ... and a black level lift, grey levels (same step)
    "gamma": (0.5, (0.6, 1.6)),
    "saturation": (0.4, (0.3, 1.6)),
    "vignette": (0.25, (0.1, 0.5)),
    "lowres": (0.3, (1.3, 3.5)),  # down by this factor with a random interpolation, and back
    "blur": (0.4, (0.4, 2.0)),  # Gaussian sigma, px
    "motion": (0.1, (2, 7)),  # motion blur length, px
    "sharpen": (0.25, (0.5, 1.5)),  # unsharp masking amount (halos of in-camera sharpening)
    "noise": (0.55, (2.0, 16.0)),  # sigma, grey levels, with a per-channel share 0-1
    "jpeg": (0.6, (15, 90)),  # quality
    "double_jpeg": (0.15, (30, 90)),  # a second round trip (re-encoded imagery)
}


def photometric_jitter_wide(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A photometrically randomized copy of a BGR uint8 image, each step with its own probability
    (:data:`WIDE_PHOTOMETRIC`): haze, colour cast with contrast and black level, gamma,
    saturation, vignetting, lower resolution, blur or motion blur, sharpening, sensor noise and
    one or two JPEG round trips."""
    import cv2

    P = WIDE_PHOTOMETRIC
    f32 = np.float32
    on = lambda key: rng.random() < P[key][0]  # noqa: E731
    draw = lambda key: float(rng.uniform(*P[key][1]))  # noqa: E731
    out = image.astype(f32)
    h, w = out.shape[:2]
    if on("haze"):
        amount = draw("haze")
        ramp = np.linspace(1.0, float(rng.uniform(0.2, 1.0)), h, dtype=f32)[:, None, None]
        air = rng.uniform(160, 250, size=3).astype(f32)
        out = out * (1 - amount * ramp) + air * (amount * ramp)
    if on("cast"):
        out *= rng.uniform(*P["cast"][1], size=3).astype(f32)
        out = (out - 128) * f32(draw("contrast")) + 128 + f32(draw("black"))
    if on("gamma"):
        out = 255.0 * (np.clip(out, 0, 255) / 255.0) ** f32(draw("gamma"))
    if on("saturation"):
        grey = out.mean(axis=2, keepdims=True)
        out = grey + f32(draw("saturation")) * (out - grey)
    if on("vignette"):
        yy, xx = np.ogrid[-1:1:complex(0, h), -1:1:complex(0, w)]
        out *= (1 - f32(draw("vignette")) * ((xx * xx + yy * yy) / 2).astype(f32))[:, :, None]
    if on("lowres"):
        factor = draw("lowres")
        down = (cv2.INTER_AREA, cv2.INTER_LINEAR, cv2.INTER_NEAREST)[int(rng.integers(0, 3))]
        small = cv2.resize(out, (max(1, round(w / factor)), max(1, round(h / factor))), interpolation=down)
        out = cv2.resize(small, (w, h), interpolation=(cv2.INTER_LINEAR, cv2.INTER_CUBIC)[int(rng.integers(0, 2))])
    if on("blur"):
        out = cv2.GaussianBlur(out, (0, 0), draw("blur"))
    elif on("motion"):
        n = int(rng.integers(P["motion"][1][0], P["motion"][1][1] + 1))
        kernel = np.zeros((n, n), f32)
        kernel[n // 2, :] = 1
        turn = cv2.getRotationMatrix2D(((n - 1) / 2, (n - 1) / 2), float(rng.uniform(0, 180)), 1)
        kernel = cv2.warpAffine(kernel, turn, (n, n))
        out = cv2.filter2D(out, -1, kernel / max(float(kernel.sum()), 1e-6))
    if on("sharpen"):
        soft = cv2.GaussianBlur(out, (0, 0), float(rng.uniform(1.0, 2.0)))
        out = out + f32(draw("sharpen")) * (out - soft)
    if on("noise"):
        sigma, share = draw("noise"), float(rng.uniform(0, 1))
        grey = rng.normal(0, sigma * (1 - share), size=(h, w, 1)).astype(f32)
        out += grey + rng.normal(0, sigma * share, size=out.shape).astype(f32)
    out = np.clip(out, 0, 255).astype(np.uint8)
    for key in ("jpeg", "double_jpeg"):
        if on(key):
            ok, data = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(draw(key))])
            if ok:
                out = cv2.imdecode(data, cv2.IMREAD_COLOR)
    return out
