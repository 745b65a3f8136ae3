"""The summary a person reads at the end of `camcensus survey`."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from geo.counting.card_check import card_check_line
from scripts import survey_dir as files
from scripts.survey.run import SurveyResult

OUTPUTS = (files.DENSITY_GEOJSON, files.DENSITY_PARQUET, files.MAP_HTML, files.DENSITY_PNG,
           files.REPORT, files.CAMERAS, files.SURVEY_TOML)


def summary_rows(result: SurveyResult) -> list[tuple[str, str]]:
    """(label, value) rows of the survey-wide totals in report.json."""
    import json

    total = result.report.get("total", {})
    info_path = result.survey_dir / files.SAMPLE_INFO
    n_views = json.loads(info_path.read_text())["n_views"] if info_path.exists() else None

    def num(value, digits=0):
        return "n/a" if value is None else f"{value:,.{digits}f}"

    rows = [
        ("road km", num(total.get("road_km"), 1)),
        ("views", num(n_views)),
        ("images", num(total.get("n_images"))),
        ("detections", num(total.get("n_detections"))),
        ("unique cameras located", num(total.get("n_cameras"))),
        ("estimated cameras (95% interval)",
         f"{num(total.get('est_cameras'))} ({num(total.get('est_lo'))}-{num(total.get('est_hi'))})"),
        ("cameras per road km",
         f"{num(total.get('per_road_km'), 2)} ({num(total.get('per_road_km_lo'), 2)}-"
         f"{num(total.get('per_road_km_hi'), 2)})"),
    ]
    if result.report.get("estimand"):
        rows.insert(5, ("estimand", result.report["estimand"]))
    elif total.get("strip_m") is not None:
        rows.insert(5, ("estimand", f"cameras within {total['strip_m']:g} m of the surveyed streets"))
    for note in result.report.get("warnings", []):
        if "does not speak for" in note:  # a fixed --strip past where the design finds cameras: one line
            rows.insert(6, ("strip warning", note))
    cal = result.report.get("calibration")
    if cal:
        rows.append(("calibration", calibration_line(cal).removeprefix("calibration: ")))
    if card_check_line(result.report):  # issue 26: does the card fit this imagery?
        rows.append(("card check", card_check_line(result.report)))
    rate = total.get("rate_estimator") or {}
    if rate.get("est_cameras") is not None:
        rows.append(("Stanford rate estimate (95% interval)",
                     f"{num(rate.get('est_cameras'))} ({num(rate.get('est_lo'))}-{num(rate.get('est_hi'))})"))
    if total.get("truth_cameras") is not None:
        rows.append(("true cameras (simulator)", num(total["truth_cameras"])))
    if total.get("osm_cameras") is not None:
        rows.append(("cameras mapped in OSM", num(total["osm_cameras"])))
    return rows


def calibration_line(cal: dict) -> str:
    """One line: where precision and recall come from (review / card / scalar), on how many
    verified detections and audited images, with their 95% intervals."""
    def num(value) -> str:
        return "n/a" if value is None else f"{value:.2f}"

    def fig(name: str) -> str:
        return f"{name} {num(cal.get(name))} ({num(cal.get(name + '_lo'))}-{num(cal.get(name + '_hi'))})"

    assumed = f" (assumed n={cal['assumed_n']})" if cal.get("assumed_n") else ""
    return (f"calibration: {cal.get('source', 'n/a')}{assumed}, {cal.get('n_verified', 0):,} verified, "
            f"{cal.get('n_audited', 0):,} audited; {fig('precision')}, {fig('recall')}")


def print_summary(result: SurveyResult, *, console: Console | None = None) -> None:
    """Print the totals table and where the outputs are."""
    console = console or Console()
    table = Table(title=f"camcensus survey: {result.survey_dir}", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value", justify="right")
    for label, value in summary_rows(result):
        table.add_row(label, value)
    console.print(table)
    for run in result.stages:
        if run.reason:
            console.print(f"  {run.stage} ran again: {run.reason}")
    for name in OUTPUTS:
        path = result.survey_dir / name
        if path.exists():
            console.print(f"  {path}")
    map_html = result.survey_dir / files.MAP_HTML
    if map_html.exists():
        console.print(f"open the map: {map_html.resolve()}")
    warning = (result.report.get("card_check") or {}).get("warning")
    if warning:  # issue 26: the card does not fit this imagery; one line, on stderr
        import sys

        print(f"warning: {warning}", file=sys.stderr)
