"""The typer application object shared by every command module in ``scripts.commands``, the
order in which ``camcensus --help`` lists the commands (the order of work), and ``--version``."""

import typer

# Help panels and the commands in each, in the order a user works (scripts.cli registers them so).
PANELS: dict[str, tuple[str, ...]] = {
    "Plan and run a survey": ("plan", "survey"),
    "Run one stage": ("sample", "fetch", "detect", "locate", "estimate"),
    "Check, compare and share": ("review", "compare-osm", "preview", "info"),
    "Detector and data": ("models", "train", "evaluate", "export", "dataset"),
}
COMMAND_ORDER: tuple[str, ...] = tuple(name for names in PANELS.values() for name in names)
PANEL_OF: dict[str, str] = {name: panel for panel, names in PANELS.items() for name in names}

app = typer.Typer(
    name="camcensus",
    help=(
        "Count and map street surveillance cameras from street-level imagery.\n\n"
        "A survey is a directory; each stage reads the previous stage's table and skips work "
        "already done: sample, fetch, detect, locate, estimate (or `survey` for all of them). "
        "Run `camcensus COMMAND -h` for a command's options."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def version_text() -> str:
    """``camcensus X.Y.Z``: the installed distribution's version (else the source tree's)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"camcensus {version('camcensus')}"
    except PackageNotFoundError:  # run from a source tree that is not installed
        import tomllib
        from pathlib import Path

        pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
        return f"camcensus {tomllib.loads(pyproject.read_text())['project']['version']}"


def _show_version(value: bool) -> None:
    if value:
        typer.echo(version_text())
        raise typer.Exit(0)


@app.callback()
def main_options(
    version: bool = typer.Option(False, "--version", is_eager=True, callback=_show_version,
                                 help="Print the version and exit."),
) -> None:
    return None  # the options above act eagerly; the commands do the work
