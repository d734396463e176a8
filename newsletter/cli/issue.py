"""`newsletter issue ...` commands (placeholder until built)."""

import typer

app = typer.Typer(help="issue commands.", no_args_is_help=True)
