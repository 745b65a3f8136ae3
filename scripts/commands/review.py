"""`camcensus review DIR`: verify a sample of detections and audit a sample of images in a local
web page (or answer both from the simulator's truth with --oracle truth)."""

import getpass
from pathlib import Path

import typer

from scripts.app import app


@app.command()
def review(
    survey: Path = typer.Argument(..., help="Survey directory (after detect; locate adds the other views of "
                                  "each camera)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on. Default 127.0.0.1 (this "
                             "machine only)."),
    port: int = typer.Option(8765, "--port", help="Port to listen on (0: any free one). Default 8765."),
    no_browser: bool = typer.Option(False, "--no-browser", help="Do not open a browser; just print the URL."),
    reviewer: str = typer.Option(None, "--reviewer", help="Name the page starts with. Default: your login name."),
    oracle: str = typer.Option(None, "--oracle", help="'truth': answer both queues from truth_boxes.parquet "
                               "(simulated surveys), no server. Default: none (a person reviews)."),
    n_verify: int = typer.Option(None, "--n-verify", help="Detections to verify. Default: enough for --target."),
    n_audit: int = typer.Option(None, "--n-audit", help="Images to audit. Default: enough for --target, "
                                "guessed from the detections per image."),
    target: float = typer.Option(0.1, "--target", help="Target half-width of the 95% intervals of precision "
                                 "and recall, which sets the default sample sizes. Default 0.10."),
    conf: float = typer.Option(None, "--conf", help="Confidence threshold of the detections to review, 0-1. "
                               "Default: the model card's, else 0.25 (fixed when a review begins)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the random samples (fixed when a review begins). Default 0."),
    export: Path = typer.Option(None, "--export", help="Write every answer to this CSV and stop (no server). "
                                "Default: none (serve the page)."),
) -> None:
    """Check a sample of detections and images in a web page.

    Review a survey: the answers (review/answers.sqlite, append-only, saved on every click) give
    `camcensus estimate` the survey's own precision by confidence and recall by box size."""
    if export is not None:
        from scripts.review.export import export_review

        rows = export_review(survey, export)
        typer.echo(f"wrote {export}: {rows} answer rows")
        return
    if oracle is not None:
        if oracle != "truth":
            raise typer.BadParameter(f"--oracle must be 'truth', got {oracle!r}")
        from scripts.review.oracle import oracle_review
        from scripts.review.report import review_line

        result, summary = oracle_review(survey, n_verify=n_verify, n_audit=n_audit, conf=conf,
                                        target_half_width=target, seed=seed)
        typer.echo(f"oracle: answered {result.n_verified} detections and {result.n_audited} images from the truth"
                   f" ({result.n_skipped} already answered)")
        typer.echo(review_line(summary))
        return
    from scripts.review.app import create_app, serve

    flask_app = create_app(survey, conf=conf, target_half_width=target, n_verify=n_verify, n_audit=n_audit,
                           seed=seed, reviewer=reviewer if reviewer is not None else getpass.getuser())
    serve(flask_app, host=host, port=port, open_browser=not no_browser, announce=typer.echo)
