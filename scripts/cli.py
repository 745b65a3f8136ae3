"""Entry point of the ``camcensus`` command: registers the command modules in the order of work
(``scripts.app.PANELS``), tidies the help (one-line summaries, each default stated once, no value
placeholder on flags) and maps bad input to one line on stderr and exit code 2 (never a traceback)."""

import importlib
import inspect
import re
import sys

import typer

from detector.errors import DetectorInputError
from geo.errors import GeoInputError
from scripts.app import COMMAND_ORDER, PANEL_OF, app

USER_ERRORS = (GeoInputError, DetectorInputError, FileNotFoundError, NotADirectoryError)
# One module per command, in the order of work; dataset's subcommands live in dataset_*.py.
COMMAND_MODULES = ("plan", "survey", "sample", "fetch", "detect", "locate", "estimate", "review",
                   "compare_osm", "preview", "info", "models", "train", "evaluate", "export", "dataset",
                   "dataset_stanford", "dataset_review")


def _command_name(info) -> str:
    return info.name or info.callback.__name__.replace("_", "-")


def _register_commands() -> None:
    """Import every command module and order the commands (and help panels) as ``COMMAND_ORDER``."""
    for module in COMMAND_MODULES:
        importlib.import_module(f"scripts.commands.{module}")
    app.registered_commands.sort(key=lambda info: COMMAND_ORDER.index(_command_name(info)))
    for info in app.registered_commands:
        info.rich_help_panel = PANEL_OF[_command_name(info)]
    for group in app.registered_groups:
        group.rich_help_panel = PANEL_OF[group.name]


def cli_command():
    """The click command of ``camcensus``, its help tidied (see the module docstring)."""
    _register_commands()
    group = typer.main.get_command(app)
    _tidy(group)
    return group


def _tidy(command) -> None:
    """Paragraphs without hard line breaks, the first a one-line summary; flags without a value
    placeholder; a default that typer shows is not stated again in the help text."""
    if command.help:
        paragraphs = inspect.cleandoc(command.help).split("\n\n")
        command.help = "\n\n".join(" ".join(p.split()) for p in paragraphs)
    help_names = app.info.context_settings["help_option_names"]
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


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the exit code (0 ok, 1 failure, 2 bad input, 130 interrupted)."""
    from scripts.warning_lines import route_warnings

    route_warnings()  # no raw warning text: ours as one line, dependencies' logged quietly
    command = cli_command()
    try:
        code = command.main(args=argv, prog_name="camcensus", standalone_mode=False)
    except USER_ERRORS as error:
        typer.secho(f"error: {error}", err=True, fg="red")
        return 2
    except KeyboardInterrupt:
        typer.secho("interrupted: finished work is kept; run the same command again to resume",
                    err=True, fg="yellow")
        return 130
    except typer.Exit as done:
        return done.exit_code
    except typer.Abort:
        return 1
    except Exception as click_error:  # click's own usage errors carry their exit code
        code = getattr(click_error, "exit_code", None)
        if code is None:
            raise
        show = getattr(click_error, "show", None)
        if show:
            show()
        return code
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    sys.exit(main())
