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
    target: float = typer.Option(0.2, "--target", help="Target relative half-width of the count's 95% interval "
                                 "that the review's precision and recall should allow (0.20 = +-20%); it sets the "
                                 "default sample sizes. Default 0.20."),
    seconds_per_image: float = typer.Option(8.0, "--seconds-per-image", help="A person's seconds per audited image, "
                                            "for the person-time line. Default 8."),
    conf: float = typer.Option(None, "--conf", help="Confidence threshold of the detections to review, 0-1. "
                               "Default: the model card's, else 0.25 (fixed when a review begins)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the random samples (fixed when a review begins). Default 0."),
    export: Path = typer.Option(None, "--export", help="Write every answer to this CSV and stop (no server). "
                                "Default: none (serve the page)."),
) -> None:
    """Check a sample of detections and images in a web page.

    Review a survey: the answers (review/answers.sqlite, append-only, saved on every click) give
    `camcensus estimate` the survey's own precision by confidence and recall by box size."""
    if not seconds_per_image > 0:
        raise typer.BadParameter(f"--seconds-per-image must be a positive number of seconds, got {seconds_per_image}")
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
        from scripts.review.sampling import encounter_limit_of, person_time_line, reach_line

        result, summary = oracle_review(survey, n_verify=n_verify, n_audit=n_audit, conf=conf,
                                        target_half_width=target, seed=seed)
        typer.echo(f"oracle: answered {result.n_verified} detections and {result.n_audited} images from the truth"
                   f" ({result.n_skipped} already answered)")
        typer.echo(review_line(summary))
        typer.echo(person_time_line(summary["n_verified"], summary["n_audited"], seconds_per_image=seconds_per_image)
                   + " (what a person would have spent)")
        if (note := reach_line(encounter_limit_of(survey, target=target))) is not None:
            typer.echo(note)
        return
    from scripts.review.app import create_app, serve

    from scripts.review.sampling import encounter_limit_of, person_time_line, reach_line

    flask_app = create_app(survey, conf=conf, target_half_width=target, n_verify=n_verify, n_audit=n_audit,
                           seed=seed, reviewer=reviewer if reviewer is not None else getpass.getuser())
    design = flask_app.extensions["review"].design
    typer.echo(f"review sample: {design.n_verify:,} detections to verify, {design.n_audit:,} images to audit"
               + (f" (grows up to {design.audit_cap:,} while the audit holds too few cameras)"
                  if design.adaptive_audit and design.audit_cap else ""), err=True)
    typer.echo(person_time_line(design.n_verify, design.n_audit, seconds_per_image=seconds_per_image), err=True)
    if (note := reach_line(encounter_limit_of(survey, target=target))) is not None:
        typer.echo(note, err=True)
    serve(flask_app, host=host, port=port, open_browser=not no_browser, announce=typer.echo)
