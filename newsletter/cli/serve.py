"""`newsletter serve`: the unsubscribe link handler on waitress."""

from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer
from rich.markup import escape

from newsletter.cli.common import ProjectOption, console, err_console

HostOption = Annotated[
    str, typer.Option(help="The address to listen on; keep loopback behind a reverse proxy.")
]
PortOption = Annotated[int, typer.Option(min=0, max=65535, help="The TCP port (0: any free one).")]
ThreadsOption = Annotated[int, typer.Option(min=1, max=64, help="Worker threads.")]


def serve_command(
    project: ProjectOption = Path("."),
    host: HostOption = "127.0.0.1",
    port: PortOption = 8080,
    threads: ThreadsOption = 4,
) -> None:
    """Serve the unsubscribe links: GET shows a page, POST (or RFC 8058 one-click) unsubscribes."""
    from newsletter.web.app import create_app  # imported here: waitress only for `serve`
    from newsletter.web.server import make_server

    web_app = create_app(project)
    server = make_server(web_app, host, port, threads)
    _log_to_stderr()
    config = web_app.config
    for url in listening_urls(server):
        console.print(f"serving unsubscribe links for {config.name} on {url}", soft_wrap=True)
    console.print(
        f"links in messages point to {config.base_url}/u/...; Ctrl-C stops", soft_wrap=True
    )
    console.print(f"the archive of sent issues: {config.base_url}/archive/", soft_wrap=True)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        server.run()  # returns after Ctrl-C or SIGTERM (waitress catches KeyboardInterrupt)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.close()
        web_app.close()
    console.print("stopped")


def subscribe_form_command(
    language: Annotated[
        str | None,
        typer.Option(help="Only this language (e.g. cy or en); default: every language."),
    ] = None,
    project: ProjectOption = Path("."),
) -> None:
    """Print the sign-up form as HTML to paste into your own web site."""
    from newsletter.config import load_config
    from newsletter.web.snippet import subscribe_snippet

    sys.stdout.write(subscribe_snippet(project, language))
    if not load_config(project).subscribe.allowed_origins:
        err_console.print(
            escape(
                "note: list the web site you paste this into in newsletter.toml, for example"
                ' [subscribe] allowed_origins = ["https://www.example.org"]: the form refuses'
                " a sign-up sent from a site it does not know"
            ),
            soft_wrap=True,
        )


def _interrupt(_signum: int, _frame: FrameType | None) -> None:
    """systemd stops a service with SIGTERM: stop as cleanly as after Ctrl-C."""
    raise KeyboardInterrupt


def _log_to_stderr() -> None:
    """The access log (tokens redacted) and waitress's warnings, one line each."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def listening_urls(server: Any) -> list[str]:
    """Where waitress listens: one address, or several for a name such as localhost."""
    pairs = getattr(server, "effective_listen", None) or [
        (server.effective_host, server.effective_port)
    ]
    return [f"http://[{h}]:{p}" if ":" in str(h) else f"http://{h}:{p}" for h, p in pairs]
