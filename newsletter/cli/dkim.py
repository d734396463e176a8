"""`newsletter dkim keygen` and `newsletter dkim record`: the signing key and its DNS record."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from newsletter.cli.common import ProjectOption, console
from newsletter.config import load_config
from newsletter.mail.dkim_keys import DEFAULT_BITS, KeyRecord, configured_record, keygen

app = typer.Typer(help="DKIM signing: make the key, show the DNS record to publish.")


@app.command("keygen")
def keygen_command(
    selector: Annotated[
        str | None,
        typer.Option(
            help="The DKIM selector (the name before ._domainkey).",
            show_default="dkim.selector or newsletter",
        ),
    ] = None,
    bits: Annotated[int, typer.Option(help="RSA key size.")] = DEFAULT_BITS,
    project: ProjectOption = Path("."),
) -> None:
    """Make an RSA signing key (readable by you only) and print the DNS record to publish."""
    new = keygen(load_config(project), selector, bits)
    console.print(f"wrote {escape(str(new.path))} (readable by its owner only; keep it secret)")
    _show_record(new)
    if not new.configured:
        relative = new.path.relative_to(project.resolve())  # type: ignore[union-attr]
        console.print("then add to newsletter.toml:")
        snippet = (
            f'[dkim]\nselector = "{new.selector}"\ndomain = "{new.domain}"\n'
            f'key_file = "{relative.as_posix()}"'
        )
        console.print(escape(snippet))


@app.command("record")
def record_command(project: ProjectOption = Path(".")) -> None:
    """Print the DNS record for the key [dkim] names (to publish it again)."""
    _show_record(configured_record(load_config(project)))


def _show_record(record: KeyRecord) -> None:
    console.print(f"publish this TXT record at {record.record_name}:")
    console.print("  " + " ".join(f'"{part}"' for part in record.record_strings), soft_wrap=True)
    console.print("as a zone-file line:")
    console.print(escape(record.zone_line), soft_wrap=True)
