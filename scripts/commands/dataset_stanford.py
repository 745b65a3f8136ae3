"""`camcensus dataset stanford`: rebuild the Stanford labelled set from Street View."""

import os
from pathlib import Path

import typer

from scripts.commands.dataset import dataset_app


@dataset_app.command("stanford")
def stanford(
    out: Path = typer.Option(..., "--out", help="Dataset folder to write (images/, labels/, "
                             "data.yaml; raw downloads under OUT/gsv)."),
    key: str = typer.Option(None, "--key", help="Google Maps API key. Default: "
                            "$GOOGLE_MAPS_API_KEY. Never written anywhere."),
    endpoint: str = typer.Option(None, "--endpoint", help="Base URL replacing the Street View "
                                 "Static API (mirrors, tests). Default: the real API."),
    meta: Path = typer.Option(None, "--meta", help="The Stanford labels' meta.csv. Default: "
                              "shared/data/stanford-surveilling-surveillance/meta.csv in the current directory."),
    secret: str = typer.Option(None, "--secret", help="Google URL signing secret (optional). "
                               "Default: $GOOGLE_MAPS_URL_SECRET."),
    workers: int = typer.Option(4, "--workers", help="Concurrent requests. Default 4."),
    rate: float = typer.Option(10.0, "--rate", help="Requests per second at most. Default 10."),
    retries: int = typer.Option(4, "--retries", help="Retries per request. Default 4."),
    timeout: float = typer.Option(30.0, "--timeout", help="Seconds per request. Default 30."),
    backoff: float = typer.Option(1.0, "--backoff", help="Seconds before the first retry. Default 1."),
) -> None:
    """Rebuild the Stanford labelled set from Street View.

    Requests each panorama and heading of the Stanford labels (640x640 px, fov 90, pitch 0) and
    writes a YOLO dataset (classes as in the Stanford labels and everywhere in camcensus:
    0 directed, 1 dome; splits as in the file). Resumable: a rerun fetches only what is missing."""
    from detector.stanford import yolo_from_stanford
    from geo.imagery.fetch import FetchOptions
    from geo.imagery.stanford import fetch_stanford, find_stanford_meta

    meta = meta or find_stanford_meta()
    options = FetchOptions(workers=workers, rate=rate, retries=retries, timeout=timeout,
                           backoff=backoff)
    fetched = fetch_stanford(meta, out / "gsv", key=key or os.environ.get("GOOGLE_MAPS_API_KEY"),
                             secret=secret or os.environ.get("GOOGLE_MAPS_URL_SECRET"),
                             endpoint=endpoint, options=options)
    dataset = yolo_from_stanford(meta, out / "gsv" / "images", out)
    typer.echo("fetch: " + "  ".join(f"{k}: {v}" for k, v in fetched.counts.items()))
    typer.echo("images: " + "  ".join(f"{k} {v}" for k, v in dataset.images.items())
               + "  boxes: " + "  ".join(f"{k} {v}" for k, v in dataset.boxes.items())
               + f"  missing images: {dataset.missing}")
    typer.echo(f"wrote {dataset.data_yaml}")
