"""The typer application object shared by every command module in ``scripts.commands``."""

import typer

app = typer.Typer(
    name="camcensus",
    help=(
        "Count and map street surveillance cameras from street-level imagery.\n\n"
        "A survey is a directory; each stage reads the previous stage's table and skips work "
        "already done: sample -> fetch -> detect -> locate -> estimate (or `survey` for all)."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
