"""The typer application object shared by every command module in ``scripts.commands``: the
order in which ``camcensus --help`` lists the commands (the order of work, in help panels),
``--version``, ``-h``, and the tidying of every command's help (``TidyGroup``)."""

import inspect

import typer
from typer.core import TyperGroup

# Help panels and the commands in each, in the order a user works (scripts.cli registers them so).
PANELS: dict[str, tuple[str, ...]] = {
    "Plan and run a survey": ("plan", "survey"),
    "Run one stage": ("sample", "fetch", "detect", "locate", "estimate"),
    "Check, compare and share": ("review", "compare-osm", "preview", "info"),
    "Detector and data": ("models", "train", "evaluate", "export", "dataset"),
}
COMMAND_ORDER: tuple[str, ...] = tuple(name for names in PANELS.values() for name in names)
PANEL_OF: dict[str, str] = {name: panel for panel, names in PANELS.items() for name in names}

HELP_OPTION_NAMES = ["-h", "--help"]


class TidyGroup(TyperGroup):
    """The ``camcensus`` group: its commands' help tidied once built (``_tidy``)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        _tidy(self)


app = typer.Typer(
    cls=TidyGroup,
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
    context_settings={"help_option_names": HELP_OPTION_NAMES},
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


def _tidy(command) -> None:
    """Paragraphs without hard line breaks, the first a one-line summary; flags without a value
    placeholder; a default that typer shows is not stated again in the help text."""
    if command.help:
        paragraphs = inspect.cleandoc(command.help).split("\n\n")
        command.help = "\n\n".join(" ".join(p.split()) for p in paragraphs)
    help_names = HELP_OPTION_NAMES
    help_option = command.get_help_option(command.context_class(command, help_option_names=help_names))
    for param in [*command.params, *([help_option] if help_option is not None else [])]:
        if getattr(param, "is_flag", False):
            param.metavar = ""
        if getattr(param, "param_type_name", "") == "option" and param.help:
            _state_default_once(param)
    for sub in getattr(command, "commands", {}).values():
        _tidy(sub)


def _state_default_once(param) -> None:
    """Typer shows ``[default: X]`` for an option with a default: drop a closing "Default X." (or
    "(default X)") that says the same; where the help's own default sentence says more than the
    value, the help alone states it."""
    shown = param.default is not None and param.default is not False and param.show_default is not False
    at = param.help.lower().rfind("default")
    if not shown or at < 0:
        return
    before = param.help[:at].rstrip()
    opening = before.endswith("(")
    if not (opening or before == "" or before.endswith((".", ";", ":"))):
        return  # "default" inside a sentence (e.g. --style default): not a default statement
    said = param.help[at + len("default"):].strip().lstrip(":").strip().rstrip(".").rstrip(")").strip()
    if _same_value(said, param.default):
        kept = (before[:-1] if opening else before).rstrip()
        param.help = kept if kept.endswith((".", ")")) or not kept else kept + "."
    else:
        param.show_default = False


def _same_value(said: str, default) -> bool:
    said = said.strip().strip("'\"")
    if isinstance(default, (list, tuple)):
        default = ",".join(str(v) for v in default)
    if isinstance(default, bool):
        return said.lower() in ("off", "false", "no") and not default or said.lower() in ("on", "true") and default
    try:
        return float(said) == float(default)
    except (TypeError, ValueError):
        return said.lower() == str(default).lower()
