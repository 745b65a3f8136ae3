"""The detector's fixed held-out sets (issue 28): one set of views, three looks.

    python -m scripts.synthesis.heldout OUT [--views 1000] [--seed 4242] [--cameras random:25:4242]

writes three YOLO datasets (val split only) of the SAME full 640 px views of the held-out area
``test.osm.pbf`` (pyrosm's bundled extract, never a training area) with a camera layout and seed no
training round uses:

- ``OUT/default``: the training look ("default");
- ``OUT/alt``: the held-out look (``--style alt``, never in training);
- ``OUT/corrupt``: ``OUT/default`` with one evaluation corruption per image
  (``geo.sim.corruptions``: haze, blur, noise, jpeg, cast, lowres in turn, at ``--severity``, 3 by
  default), labels unchanged. The corruption set is evaluation-only code, separate from training's
  ``photometric_jitter``.

Every set has ``truth_ranges.csv`` (for reach). Rerunning resumes (the renders skip done views,
the corrupted copies skip existing files).

The card set (issues 27 and 28), separate from the fixed sets, which choose epochs, members and
thresholds:

    python -m scripts.synthesis.heldout OUT --card-set [--views 3000] [--seed 5353] [--cameras random:25:5353]

writes only ``OUT/default`` (the training look): ``--views`` views of the same held-out area with
a seed and a camera layout that no training round and no fixed set uses, for the figures a card
records (``camcensus evaluate --update-card --new-held-out``). The fixed sets' seed and layout are
refused there.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import numpy as np

LOOKS = ("default", "alt", "corrupt")
FIXED = {"views": 1000, "seed": 4242, "cameras": "random:25:4242"}  # the fixed sets: they choose models
CARD_SET = {"views": 3000, "seed": 5353, "cameras": "random:25:5353"}  # the card's figures, chosen nothing


def _test_pbf() -> str:
    import pyrosm

    return pyrosm.get_data("test_pbf")


def heldout_sets(out: str | Path, *, views: int = 1000, seed: int = 4242, cameras: str = "random:25:4242",
                 severity: int = 3) -> dict[str, Path]:
    """Build (or finish) the three held-out sets under ``out``; returns look -> data.yaml."""
    out = Path(out)
    paths = {style: look_set(out / style, style=style, views=views, seed=seed, cameras=cameras)
             for style in ("default", "alt")}
    paths["corrupt"] = corrupted_copy(out / "default", out / "corrupt", severity=severity)
    return paths


def card_set(out: str | Path, *, views: int = CARD_SET["views"], seed: int = CARD_SET["seed"],
             cameras: str = CARD_SET["cameras"]) -> Path:
    """Build (or finish) the card set under ``out``: ``out/default``, ``views`` 640 px views of the
    held-out area in the training look, with a seed and camera layout other than the fixed sets'
    (ValueError otherwise). Returns its data.yaml."""
    if seed == FIXED["seed"] or cameras.split(":")[2:] == FIXED["cameras"].split(":")[2:]:
        raise ValueError(f"the card set needs a seed and a camera layout seed other than the fixed sets' "
                         f"({FIXED['seed']}, {FIXED['cameras']}); got {seed}, {cameras}")
    return look_set(Path(out) / "default", style="default", views=views, seed=seed, cameras=cameras)


def look_set(out: Path, *, style: str, views: int, seed: int, cameras: str) -> Path:
    """One look's val-only YOLO dataset of ``views`` views of ``test.osm.pbf``; returns data.yaml."""
    from scripts.synthesis.dataset import synth_dataset

    # views is train + val: val_fraction 0.5 makes ``views`` val views (the train views are only
    # drawn, never rendered: val_only)
    result = synth_dataset(out, areas=["demo"], val_areas=[_test_pbf()], sim_cameras=["random:8", cameras],
                           views=2 * views, val_fraction=0.5, seed=seed, size=640, style=style, val_only=True)
    return result.data_yaml


def corrupted_copy(source: str | Path, out: str | Path, *, severity: int = 3, split: str = "val") -> Path:
    """Copy the YOLO dataset ``source``'s ``split`` to ``out`` with one corruption per image (the
    kinds of ``geo.sim.corruptions.CORRUPTIONS`` in turn by sorted file name, seeded per image);
    labels, ``truth_ranges.csv`` and ``data.yaml`` are copied. Returns the new data.yaml."""
    import cv2

    from geo.sim.corruptions import CORRUPTIONS, corrupt
    from scripts.synthesis.dataset import zlib_hash

    source, out = Path(source), Path(out)
    (out / "images" / split).mkdir(parents=True, exist_ok=True)
    (out / "labels" / split).mkdir(parents=True, exist_ok=True)
    (out / "images" / "train").mkdir(parents=True, exist_ok=True)  # data.yaml names it (empty)
    images = sorted((source / "images" / split).glob("*.jpg"))
    for k, path in enumerate(images):
        target = out / "images" / split / path.name
        label = source / "labels" / split / (path.stem + ".txt")
        if label.exists():
            shutil.copyfile(label, out / "labels" / split / label.name)
        if target.exists():
            continue
        kind = CORRUPTIONS[k % len(CORRUPTIONS)]
        image = corrupt(cv2.imread(str(path)), kind, severity=severity,
                        rng=np.random.default_rng([zlib_hash(path.name), severity]))
        tmp = target.with_suffix(".tmp.jpg")
        cv2.imwrite(str(tmp), image, [cv2.IMWRITE_JPEG_QUALITY, 95])
        tmp.rename(target)
    for name in ("truth_ranges.csv",):
        if (source / name).exists():
            shutil.copyfile(source / name, out / name)
    text = (source / "data.yaml").read_text(encoding="utf-8")
    text = text.replace(str(source.resolve()), str(out.resolve())).replace(str(source), str(out))
    (out / "data.yaml").write_text(text + f"# corrupted copy of {source}: {', '.join(CORRUPTIONS)} in turn, "
                                   f"severity {severity}\n", encoding="utf-8")
    return out / "data.yaml"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="folder for the three sets (with --card-set: for the card set)")
    parser.add_argument("--card-set", action="store_true", help="build the card set instead: the training "
                        "look only, 3000 views, seed 5353, cameras random:25:5353 unless given")
    parser.add_argument("--views", type=int, default=None, help="views per set (640 px). Default 1000 "
                        "(card set: 3000).")
    parser.add_argument("--seed", type=int, default=None, help="view and scene seed. Default 4242 "
                        "(card set: 5353).")
    parser.add_argument("--cameras", default=None, help="camera spec of the held-out area (cameras per "
                        "street km and layout seed). Default random:25:4242 (card set: random:25:5353).")
    parser.add_argument("--severity", type=int, default=3, help="corruption severity 1-5. Default 3.")
    args = parser.parse_args(argv)
    given = {k: v for k, v in (("views", args.views), ("seed", args.seed), ("cameras", args.cameras)) if v is not None}
    if args.card_set:
        try:
            paths = {"default": card_set(args.out, **(CARD_SET | given))}
        except ValueError as error:
            print(f"heldout: {error}", file=sys.stderr)
            return 2
    else:
        paths = heldout_sets(args.out, **(FIXED | given), severity=args.severity)
    for look, path in paths.items():
        print(f"{look}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
