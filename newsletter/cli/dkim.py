"""`newsletter dkim keygen` and `newsletter dkim record`: the signing key and its DNS record."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from newsletter.cli.common import ProjectOption, console

if TYPE_CHECKING:
    from newsletter.mail.dkim_keys import KeyRecord

# The core (and `cryptography`) is imported inside each command, so that
# `--help` and the other commands start fast (benchmarks/startup.py).

app = typer.Typer(
    help="DKIM signing: make the key, show the DNS record to publish.", rich_markup_mode=None
)


@app.command("keygen")
def keygen_command(
    selector: Annotated[
        str | None,
        typer.Option(
            help="The DKIM selector (the name before ._domainkey).",
            show_default="dkim.selector or newsletter",
        ),
    ] = None,
    bits: Annotated[int | None, typer.Option(help="RSA key size.", show_default="2048")] = None,
    ed25519: Annotated[
        bool,
        typer.Option(
            "--ed25519", help="Make the optional second key, Ed25519 (RFC 8463); RSA stays."
        ),
    ] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Replace the selector's existing key (mail fails DKIM until the new record is published).",
        ),
    ] = False,
    project: ProjectOption = Path("."),
) -> None:
    """Make a signing key (readable by you only), name it in newsletter.toml's [dkim]
    and print the DNS record to publish."""
    from newsletter.config import CONFIG_NAME, load_config
    from newsletter.mail.dkim_keys import DEFAULT_BITS, keygen

    bits = DEFAULT_BITS if bits is None else bits
    new = keygen(load_config(project), selector, bits, ed25519=ed25519, force=force)
    console.print(
        f"wrote {escape(str(new.path))} (readable by its owner only; keep it secret)",
        soft_wrap=True,
    )
    if not new.configured:
        console.print(escape(f"{CONFIG_NAME}: [dkim] now names this key (selector {new.selector})"))
    _show_record(new)
    console.print(
        "messages are signed from the next command on; they verify once the record is "
        "published (check with `newsletter doctor`)",
        soft_wrap=True,
    )


@app.command("record")
def record_command(project: ProjectOption = Path(".")) -> None:
    """Print the DNS records for the keys [dkim] names (to publish them again)."""
    from newsletter.config import load_config
    from newsletter.mail.dkim_keys import configured_records

    for record in configured_records(load_config(project)):
        _show_record(record)


def _show_record(record: KeyRecord) -> None:
    console.print(f"publish this TXT record at {record.record_name}:")
    console.print("  " + " ".join(f'"{part}"' for part in record.record_strings), soft_wrap=True)
    console.print("as a zone-file line:")
    console.print(escape(record.zone_line), soft_wrap=True)
