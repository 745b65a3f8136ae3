"""`camcensus fetch`: one image (or a final no_imagery / error row) per view of a survey."""

from pathlib import Path

import typer

from scripts.app import app
from scripts.survey.lock import holds_survey

PROVIDERS = ("simulated", "local", "mapillary", "gsv")


@app.command()
@holds_survey("survey", command="camcensus fetch")  # one writer per survey directory
def fetch(
    survey: Path = typer.Argument(..., help="Survey directory (views.parquet from `camcensus sample`)."),
    provider: str = typer.Option("simulated", "--provider",
                                 help="simulated, local, mapillary or gsv. Default simulated."),
    endpoint: str = typer.Option(None, "--endpoint", help="Base URL replacing the provider's public "
                                 "API (mirrors, tests). Default: the real API."),
    key: str = typer.Option(None, "--key", help="Google Maps API key (gsv). Default: "
                            "$GOOGLE_MAPS_API_KEY. Never written anywhere."),
    token: str = typer.Option(None, "--token", help="Mapillary access token. Default: "
                              "$MAPILLARY_TOKEN. Never written anywhere."),
    secret: str = typer.Option(None, "--secret", help="Google URL signing secret (gsv, optional). "
                               "Default: $GOOGLE_MAPS_URL_SECRET."),
    workers: int = typer.Option(None, "--workers", help="Concurrent requests (simulated: render "
                                "processes). Default 4 (simulated: CPU count)."),
    rate: float = typer.Option(10.0, "--rate", help="Requests per second at most, all workers "
                               "together; 0 = unlimited. Default 10."),
    retries: int = typer.Option(4, "--retries", help="Retries after a 429, 5xx, timeout or bad "
                                "image body (exponential backoff with jitter, Retry-After honoured). "
                                "Default 4."),
    timeout: float = typer.Option(30.0, "--timeout", help="Seconds per request. Default 30."),
    backoff: float = typer.Option(1.0, "--backoff", help="Seconds before the first retry (doubles "
                                  "each time, at most 60). Default 1."),
    radius: float = typer.Option(None, "--radius", help="Metres around each view to look for "
                                 "imagery. Default: gsv 50, mapillary and local 20."),
    heading_tol: float = typer.Option(45.0, "--heading-tol", help="Degrees an image's direction may "
                                      "differ from the view's (mapillary photos, local). Default 45."),
    images: Path = typer.Option(None, "--images", help="Folder of your own images (local). Default: none."),
    manifest: Path = typer.Option(None, "--manifest", help="CSV or Parquet: path, lon, lat, heading "
                                  "[, fov, pitch, captured_at] (local). Default: read EXIF."),
    as_is: bool = typer.Option(False, "--as-is", help="Local: the manifest's images become the "
                               "survey's views (writes views.parquet) instead of being matched."),
    size: int = typer.Option(640, "--size", help="Image side in pixels (gsv at most 640; "
                             "mapillary panorama crops; simulated renders). Default 640."),
    sim_cameras: str = typer.Option(None, "--sim-cameras", help="Simulated cameras: osm, "
                                    "random:D[:SEED] or a GeoJSON. Default: osm for demo, random:1."),
    seed: int = typer.Option(0, "--seed", help="Seed of the simulated scene. Default 0."),
    style: str = typer.Option("default", "--style", help="Simulated: the renderer's style, default or alt "
                              "(a look never used in training, for robustness checks). Default: default."),
    cache: Path = typer.Option(None, "--cache", help="Download cache folder, keyed by provider, "
                               "image id and parameters. Default: SURVEY/cache."),
) -> None:
    """Fetch one image per view: simulated, local, mapillary or gsv.

    Fetch one image per view into SURVEY/images and SURVEY/images.parquet; a rerun requests only the
    views that are missing or did not end ok."""
    from geo.errors import GeoInputError

    if provider not in PROVIDERS:
        raise GeoInputError(f"unknown --provider '{provider}': choose one of {', '.join(PROVIDERS)}")
    if provider == "simulated":
        from geo.sim.survey import simulate_survey

        table = simulate_survey(survey, area=None, sim_cameras=sim_cameras, seed=seed, width=size,
                                height=size, workers=workers, style=style)
        counts = table["status"].value_counts().to_dict()
    else:
        from geo.imagery.fetch import FetchOptions, fetch_survey
        from geo.imagery.providers import provider_from_name
        from scripts.survey.stages import provider_settings

        settings = provider_settings(provider, endpoint=endpoint, key=key, token=token, secret=secret,
                                     radius=radius, heading_tol=heading_tol, size=size, images=images,
                                     manifest=manifest, as_is=as_is)
        options = FetchOptions(workers=workers or 4, rate=rate, retries=retries, timeout=timeout,
                               backoff=backoff, size=size)
        result = fetch_survey(survey, provider=provider_from_name(provider, **settings),
                              options=options, cache_dir=cache)
        counts = result.counts
        typer.echo(f"fetch {provider}: {result.attempted} requested, {result.skipped} already ok, "
                   f"{result.requests} HTTP requests")
    typer.echo("  ".join(f"{status}: {counts.get(status, 0)}"
                         for status in ("ok", "no_imagery", "error")) + f"  -> {survey / 'images.parquet'}")
