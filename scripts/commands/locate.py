"""`camcensus locate DIR`: detections -> unique cameras on the map (cameras.parquet)."""

from pathlib import Path

import typer

from scripts.app import app
from scripts.survey.lock import holds_survey


@app.command()
@holds_survey("survey", command="camcensus locate")  # one writer per survey directory
def locate(
    survey: Path = typer.Argument(..., help="Survey directory (with images.parquet and detections/)."),
    camera_size: float = typer.Option(None, "--camera-size", help="Nominal camera size, metres, for ranges "
                                      "from box size when no facade is hit. Default: 0.33 dome, 0.46 directed, "
                                      "as the estimate assumes."),
    max_range: float = typer.Option(60.0, "--max-range", help="Farthest facade hit accepted, metres (default 60)."),
    merge: float = typer.Option(2.5, "--merge", help="Detections of one camera merge when closer than this, "
                                "metres, or within their combined uncertainty (default 2.5)."),
    no_buildings: bool = typer.Option(False, "--no-buildings", help="Do not use the area's OSM buildings "
                                      "(ranges from box size only). Default: use them when available."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Recompute even if cameras.parquet is up to date."),
) -> None:
    """Turn detections into unique cameras on the map.

    Turn detections into unique cameras: bearing from each box, range from facades or box size, same
    camera seen in several views merged (writes cameras.parquet)."""
    from geo.counting.locate import locate_survey

    cameras = locate_survey(survey, buildings=None if no_buildings else "auto", overwrite=overwrite,
                            camera_size_m=camera_size, max_range_m=max_range, merge_m=merge)
    methods = cameras["method"].value_counts().to_dict() if len(cameras) else {}
    typer.echo(f"cameras: {len(cameras):,} from {int(cameras['n_detections'].sum()) if len(cameras) else 0:,} "
               f"detections ({', '.join(f'{k} {v}' for k, v in methods.items()) or 'none'})")
    typer.echo(f"wrote {Path(survey) / 'cameras.parquet'}")
