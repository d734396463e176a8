"""`newsletter send` and `newsletter status` (placeholder until built)."""

import typer


def register(app: typer.Typer) -> None:
    """Add the send and status commands to the root app."""
