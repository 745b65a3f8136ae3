"""Image sources for batch detection: what ``camcensus detect SOURCE`` reads.

SOURCE is one of
- a survey directory (has ``images.parquet``): rows with ``status == "ok"``, image_id from the
  table, paths relative to the survey directory;
- a folder, searched recursively for image files; image_id = path relative to the folder;
- a glob (``photos/**/*.jpg``); image_id = path relative to the glob's fixed leading folder;
- a text file of paths, one per line (``#`` comments and blank lines skipped; relative paths are
  relative to the text file); image_id = the line as written. Every listed path is tried, so a
  listed non-image is reported as a failure rather than skipped.

Images are listed sorted by image_id so that runs (and resumed runs) batch them identically.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pandas as pd

from detector.errors import DetectorInputError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
SURVEY_IMAGES = "images.parquet"  # the survey directory's image table (scripts/survey_dir.py)
SourceKind = Literal["survey", "folder", "glob", "list"]


@dataclass
class ImageSource:
    """Images to detect on: ``images`` has columns image_id (str) and path (absolute str)."""

    kind: SourceKind
    root: Path  # the survey dir, the folder, the glob's leading folder, or the list's folder
    images: pd.DataFrame


def _frame(image_ids: list[str], paths: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame(
        {"image_id": pd.Series(image_ids, dtype=object), "path": pd.Series(paths, dtype=object)}
    )
    frame = frame.drop_duplicates("image_id").sort_values("image_id", kind="stable")
    return frame.reset_index(drop=True)


def images_from_survey(survey_dir: Path) -> ImageSource:
    """Rows of ``images.parquet`` with status ok."""
    table = pd.read_parquet(survey_dir / SURVEY_IMAGES)
    missing = {"image_id", "path"} - set(table.columns)
    if missing:
        raise DetectorInputError(f"{survey_dir / SURVEY_IMAGES} lacks columns {sorted(missing)}")
    if "status" in table.columns:
        table = table[table["status"] == "ok"]
    table = table.dropna(subset=["image_id", "path"])
    paths = [str((survey_dir / p).resolve()) for p in table["path"]]
    return ImageSource("survey", survey_dir, _frame([str(i) for i in table["image_id"]], paths))


def images_from_folder(folder: Path) -> ImageSource:
    """Image files (by suffix) anywhere under ``folder``."""
    files = [p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()]
    return ImageSource(
        "folder",
        folder,
        _frame(
            [p.relative_to(folder).as_posix() for p in files], [str(p.resolve()) for p in files]
        ),
    )


def images_from_glob(pattern: str) -> ImageSource:
    """Files matching a glob (``**`` recurses)."""
    parts = Path(pattern).parts
    fixed = [p for p in parts[: next(i for i, p in enumerate(parts) if glob.has_magic(p))]]
    root = Path(*fixed) if fixed else Path(".")
    files = [Path(p) for p in glob.glob(pattern, recursive=True) if Path(p).is_file()]
    return ImageSource(
        "glob",
        root,
        _frame([p.relative_to(root).as_posix() for p in files], [str(p.resolve()) for p in files]),
    )


def images_from_list(list_file: Path) -> ImageSource:
    """Paths listed in a text file, one per line."""
    ids, paths = [], []
    for line in list_file.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        path = Path(line)
        ids.append(line)
        paths.append(str((path if path.is_absolute() else list_file.parent / path).resolve()))
    return ImageSource("list", list_file.parent, _frame(ids, paths))


def images_from_source(source: str | Path) -> ImageSource:
    """Dispatch on the kind of SOURCE (see the module docstring)."""
    text = str(source)
    path = Path(text)
    if path.is_dir():
        if (path / SURVEY_IMAGES).is_file():
            return images_from_survey(path)
        return images_from_folder(path)
    if path.is_file():
        if path.suffix.lower() in IMAGE_SUFFIXES:
            return ImageSource("list", path.parent, _frame([path.name], [str(path.resolve())]))
        return images_from_list(path)
    if glob.has_magic(text):
        found = images_from_glob(text)
        if found.images.empty:
            raise DetectorInputError(f"no files match {text!r}")
        return found
    raise FileNotFoundError(f"image source not found: {text}")
