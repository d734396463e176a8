"""`newsletter serve` (placeholder until built)."""

import typer


def register(app: typer.Typer) -> None:
    """Add the serve command to the root app."""
