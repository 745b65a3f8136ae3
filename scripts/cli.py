"""Entry point of the ``camcensus`` command: registers the command modules and maps bad input
to one line on stderr and exit code 2 (never a traceback)."""

import importlib
import pkgutil
import sys

import typer

from detector.errors import DetectorInputError
from geo.errors import GeoInputError
from scripts import commands
from scripts.app import app

USER_ERRORS = (GeoInputError, DetectorInputError, FileNotFoundError, NotADirectoryError)


def _register_commands() -> None:
    for module in pkgutil.iter_modules(commands.__path__):
        importlib.import_module(f"{commands.__name__}.{module.name}")


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the exit code (0 ok, 1 failure, 2 bad input, 130 interrupted)."""
    from scripts.warning_lines import route_warnings

    route_warnings()  # no raw warning text: ours as one line, dependencies' logged quietly
    _register_commands()
    try:
        code = app(args=argv, standalone_mode=False)  # click returns typer.Exit's code here
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
