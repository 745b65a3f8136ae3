"""Does a survey's imagery look like the card's held-out images? (issue 26, the look test)

    python scripts/validation/look_shift.py tables --heldout HELDOUT --out OUT [--max-images 100] SURVEY...
    python scripts/validation/look_shift.py table --out OUT [--markdown FILE]
    python scripts/validation/look_shift.py write SURVEY_DIR...
    python scripts/validation/look_shift.py reference HELDOUT_IMAGES [--json FILE]

``tables`` computes the per-image look statistics (``detector.look``) of the card's held-out set
(``HELDOUT/default/images/val``, and its ``alt`` / ``corrupt`` copies for reference) and of each
rendered survey's images (``SURVEY/base/images``; at most ``--max-images`` per survey, a seeded
sample), into ``OUT/look/NAME.parquet`` (resumable: existing tables are kept). It only reads the
surveys. ``table`` prints, per survey, the look test's statistic and verdict against the held-out
reference (``geo.counting.card_check.look_test``).

``write`` adds ``look.parquet`` (what ``camcensus detect`` now writes beside the detections) to
surveys detected before it existed, without detecting again (the survey directory holds
``images.parquet``; nothing else in it changes). ``reference`` prints the card's
``calibration.look`` (``detector.look.look_reference``) of a held-out image folder as JSON, for a
card evaluated before ``camcensus evaluate --update-card`` stored it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd


def _images(folder: Path, max_images: int | None, seed: int) -> list[Path]:
    paths = sorted(folder.glob("*.jpg")) + sorted(folder.glob("*.png"))
    if max_images is not None and len(paths) > max_images:
        pick = np.sort(np.random.default_rng(seed).choice(len(paths), size=max_images, replace=False))
        paths = [paths[k] for k in pick]
    return paths


def look_tables(heldout: Path, surveys: list[Path], out: Path, *, max_images: int | None = 100,
                max_reference: int | None = None, seed: int = 26) -> list[Path]:
    """Write ``out/look/NAME.parquet`` for the held-out sets and each survey (kept if present)."""
    from detector.look import look_table

    (out / "look").mkdir(parents=True, exist_ok=True)
    jobs = [(f"heldout-{look}", heldout / look / "images" / "val", max_reference if look == "default" else 300)
            for look in ("default", "alt", "corrupt")]
    jobs += [(s.name, s / "base" / "images", max_images) for s in surveys]
    written = []
    for name, folder, cap in jobs:
        target = out / "look" / f"{name}.parquet"
        if not target.exists():
            table = look_table(_images(folder, cap, seed))
            tmp = target.with_suffix(".tmp.parquet")
            table.to_parquet(tmp, index=False)
            tmp.rename(target)
            print(f"{name}: {len(table)} images", flush=True)
        written.append(target)
    return written


def _group(meta: dict) -> str:
    if meta.get("corruption"):
        return "corrupted"
    return "held-out look" if meta.get("style") == "alt" else "training look"


def shift_table(out: Path, rendered: Path) -> pd.DataFrame:
    """Per survey (and held-out copy): the look test against the held-out default set."""
    from detector.look import look_reference
    from geo.counting.card_check import look_test

    ref = look_reference(pd.read_parquet(out / "look" / "heldout-default.parquet"))
    rows = []
    for path in sorted((out / "look").glob("*.parquet")):
        name = path.stem
        if name.endswith(".tmp"):
            continue
        meta = {}
        if (rendered / name / "survey.json").exists():
            meta = json.loads((rendered / name / "survey.json").read_text())
        group = _group(meta) if meta else ("reference" if name == "heldout-default" else "held-out set copy")
        test = look_test(pd.read_parquet(path), ref)
        rows.append({"survey": name, "group": group, "area": meta.get("area", "test_pbf"),
                     "look": meta.get("corruption") or meta.get("style", name.split("-")[-1]),
                     "n_images": test["n_images"], "share_outside": test["share_outside"],
                     "p_value": test["p_value"], "fits": test["fits"],
                     "worst": test["worst_statistic"], "worst_z": test["worst_z"],
                     "worst_share": test["worst_share"]})
    return pd.DataFrame(rows)


def _markdown(table: pd.DataFrame) -> str:
    def cell(v):
        return f"{v:.3g}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def write_looks(surveys: list[Path], *, workers: int = 1) -> list[Path]:
    """``look.parquet`` for each survey directory (its images.parquet's images; kept where present)."""
    from detector.look import write_survey_look

    written = []
    for survey in surveys:
        images = pd.read_parquet(survey / "images.parquet")
        if "status" in images:
            images = images[images["status"] == "ok"]
        paths = [p if Path(p).is_absolute() else str(survey / p) for p in images["path"].astype(str)]
        path = write_survey_look(survey, images.assign(path=paths), workers=workers)
        print(f"{survey}: {path}", flush=True)
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("tables", help="per-image look statistics of the held-out sets and the surveys")
    t.add_argument("surveys", nargs="*", type=Path, help="rendered survey folders (NAME/base/images)")
    t.add_argument("--heldout", type=Path, required=True, help="the held-out sets' folder (default/alt/corrupt)")
    t.add_argument("--out", type=Path, required=True, help="output folder (look/NAME.parquet)")
    t.add_argument("--max-images", type=int, default=100, help="images per survey (seeded sample). Default 100.")
    t.add_argument("--max-reference", type=int, default=None, help="held-out default images. Default all.")
    s = sub.add_parser("table", help="the look test per survey against the held-out default set")
    s.add_argument("--out", type=Path, required=True)
    s.add_argument("--rendered", type=Path, required=True,
                   help="the rendered validation's cache (NAME/survey.json gives each survey's look and group)")
    s.add_argument("--markdown", type=Path, default=None)
    w = sub.add_parser("write", help="look.parquet for surveys detected before detect wrote it")
    w.add_argument("surveys", nargs="+", type=Path, help="survey directories (with images.parquet)")
    w.add_argument("--workers", type=int, default=1, help="threads. Default 1.")
    r = sub.add_parser("reference", help="a held-out image folder's look reference (the card's calibration.look)")
    r.add_argument("images", type=Path, help="folder of the card's held-out images (e.g. HELDOUT/default/images/val)")
    r.add_argument("--json", type=Path, default=None, help="write the reference here (else print it)")
    args = parser.parse_args(argv)
    if args.cmd == "write":
        write_looks(args.surveys, workers=args.workers)
        return 0
    if args.cmd == "reference":
        from detector.look import look_reference, look_table

        ref = look_reference(look_table(_images(args.images, None, 0)), source=str(args.images))
        text = json.dumps(ref, indent=2)
        if args.json:
            args.json.write_text(text + "\n", encoding="utf-8")
        else:
            print(text)
        return 0
    if args.cmd == "tables":
        look_tables(args.heldout, args.surveys, args.out, max_images=args.max_images,
                    max_reference=args.max_reference)
        return 0
    table = shift_table(args.out, args.rendered)
    pd.set_option("display.width", 200)
    print(table.to_string(index=False))
    print(table.groupby("group").agg(n=("survey", "size"), flagged=("fits", lambda f: int((f == False).sum()))))  # noqa: E712
    if args.markdown:
        args.markdown.write_text(_markdown(table), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
