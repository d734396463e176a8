"""`newsletter subscribers ...` commands (placeholder until built)."""

import typer

app = typer.Typer(help="subscribers commands.", no_args_is_help=True)
