"""Entry point of the ``camcensus`` command: registers the command modules in the order of work
(``scripts.app.PANELS``; the help is tidied by ``scripts.app.TidyGroup``) and maps bad input to one
line on stderr and exit code 2 (never a traceback)."""

import importlib
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
    order = {name: i for i, name in enumerate(COMMAND_ORDER)}  # any other command (a test's) comes last
    app.registered_commands.sort(key=lambda info: order.get(_command_name(info), len(order)))
    for info in app.registered_commands:
        info.rich_help_panel = PANEL_OF.get(_command_name(info), info.rich_help_panel)
    for group in app.registered_groups:
        group.rich_help_panel = PANEL_OF.get(group.name, group.rich_help_panel)


def cli_command():
    """The click command of ``camcensus`` (its help tidied by ``scripts.app.TidyGroup``)."""
    _register_commands()
    return typer.main.get_command(app)


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
    except Exception as click_error:  # click's own errors carry their exit code
        code = getattr(click_error, "exit_code", None)
        if code is None:
            raise
        _show_click_error(click_error, code)
        return code
    return code if isinstance(code, int) else 0


def _show_click_error(error: Exception, code: int) -> None:
    """A usage error (bad or missing option or argument: exit 2) as one line naming the help to
    read; any other click error as click shows it."""
    ctx = getattr(error, "ctx", None)
    if code == 2 and ctx is not None and hasattr(error, "format_message"):
        if not error.format_message().strip():  # no arguments at all: the help was shown
            return
        where = ctx.command_path.replace("python -m scripts.cli", "camcensus")
        hint = " (number formats are --dtype; --precision is a detector statistic, 0-1)" if getattr(
            error, "option_name", None) == "--precision" else ""
        typer.secho(f"error: {error.format_message().rstrip('.')}{hint}; see `{where} -h`", err=True, fg="red")
        return
    show = getattr(error, "show", None)
    if show:
        show()


_register_commands()  # `from scripts.cli import app` gets every command, in order


if __name__ == "__main__":
    sys.exit(main())
