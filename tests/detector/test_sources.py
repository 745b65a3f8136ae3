"""Image sources: folders recursively, globs, lists of paths, survey tables; stable ids and order."""

import pandas as pd
import pytest

from detector.sources import images_from_source


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "photos"
    for name in ["b.jpg", "a.PNG", "sub/c.jpeg", "sub/deeper/d.webp", "notes.txt", "sub/e.gif"]:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    return root


def test_folder_is_searched_recursively_for_image_files(tree):
    src = images_from_source(tree)
    assert src.kind == "folder" and src.root == tree
    assert src.images["image_id"].tolist() == ["a.PNG", "b.jpg", "sub/c.jpeg", "sub/deeper/d.webp"]
    assert src.images["path"].iloc[2] == str((tree / "sub" / "c.jpeg").resolve())


def test_glob_ids_are_relative_to_its_fixed_folder(tree):
    src = images_from_source(f"{tree}/**/*.jp*g")
    assert src.kind == "glob" and src.images["image_id"].tolist() == ["b.jpg", "sub/c.jpeg"]
    with pytest.raises(ValueError, match="no files match"):
        images_from_source(f"{tree}/*.tif")


def test_list_file_keeps_every_line_relative_to_itself(tree, tmp_path):
    listing = tmp_path / "todo.txt"
    listing.write_text(
        f"# my images\nphotos/b.jpg\n\nphotos/notes.txt\n{tree / 'sub' / 'c.jpeg'}\nphotos/b.jpg\n"
    )
    src = images_from_source(listing)
    assert src.kind == "list"
    assert src.images["image_id"].tolist() == sorted(
        ["photos/b.jpg", "photos/notes.txt", str(tree / "sub" / "c.jpeg")]
    )
    assert src.images.set_index("image_id").loc["photos/notes.txt", "path"] == str(
        (tree / "notes.txt").resolve()
    )


def test_survey_reads_ok_rows_of_images_parquet(tmp_path):
    pd.DataFrame(
        {
            "image_id": ["z", "y", "x"],
            "path": ["images/z.jpg", "images/y.jpg", None],
            "status": ["ok", "error", "no_imagery"],
        }
    ).to_parquet(tmp_path / "images.parquet")
    src = images_from_source(tmp_path)
    assert src.kind == "survey" and src.images["image_id"].tolist() == ["z"]
    assert src.images["path"].iloc[0] == str((tmp_path / "images" / "z.jpg").resolve())


def test_a_single_image_and_a_missing_source(tree, tmp_path):
    assert images_from_source(tree / "b.jpg").images["image_id"].tolist() == ["b.jpg"]
    with pytest.raises(FileNotFoundError, match="image source not found"):
        images_from_source(tmp_path / "absent")
