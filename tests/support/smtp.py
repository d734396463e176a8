"""Real SMTP servers for the sending tests: aiosmtpd on 127.0.0.1, ephemeral ports.

- `smtp_server`: plain, records every message it accepts.
- `tls_server`: STARTTLS required, a self-signed certificate the test trusts
  (`tls_server.ca_file`), AUTH user/secret after TLS.
- `auth_server`: plain with AUTH (user/secret), for success and refusal.
- `faulty_server`: answers 451 to every Nth DATA, drops the connection at every
  Mth MAIL, refuses one domain with 550 5.1.1, and can lose the reply to a DATA.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from newsletter.mail.outgoing import OutgoingMessage
from newsletter.subscribers.model import Subscriber

USER, PASSWORD = "user", "secret"


@dataclass
class Received:
    at: float
    mail_from: str
    rcpt_to: str
    data: bytes
    session: int  # the client port of the SMTP session that carried it


@dataclass
class Sink:
    """An aiosmtpd handler that keeps what it accepted (appends are thread-safe)."""

    messages: list[Received] = field(default_factory=list)
    delay: float = 0.0  # seconds before answering DATA: widens the in-flight window
    data_begun: int = 0  # messages whose content arrived, answered or not (Sink's own DATA)

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201
        self.data_begun += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        return self.accept(session, envelope)

    def accept(self, session, envelope) -> str:  # noqa: ANN001
        for rcpt in envelope.rcpt_tos:
            self.messages.append(
                Received(
                    time.monotonic(), envelope.mail_from, rcpt, envelope.content, session.peer[1]
                )
            )
        return "250 2.0.0 OK"

    def recipients(self) -> list[str]:
        return [message.rcpt_to for message in self.messages]


@dataclass
class FaultySink(Sink):
    temp_fail_every: int = 0  # 451 to every Nth DATA
    drop_every: int = 0  # close the connection at every Nth MAIL
    bad_domain: str = "nowhere.example"  # 550 5.1.1 at RCPT
    lose_reply_for: set[str] = field(default_factory=set)  # accept, then hang up
    policy_domain: str = ""  # 550 5.7.1 at RCPT
    mails: int = 0
    datas: int = 0

    async def handle_MAIL(self, server, session, envelope, address, mail_options):  # noqa: ANN001, ANN201
        self.mails += 1
        if self.drop_every and self.mails % self.drop_every == 0:
            server.transport.close()
            return "421 4.4.2 closing"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: ANN001, ANN201
        domain = address.rpartition("@")[2]
        if domain == self.bad_domain:
            return f"550 5.1.1 <{address}>: no such user"
        if domain == self.policy_domain:
            return "550 5.7.1 message refused by policy"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201
        self.datas += 1
        if self.temp_fail_every and self.datas % self.temp_fail_every == 0:
            return "451 4.3.0 try again later"
        if envelope.rcpt_tos[0] in self.lose_reply_for:
            self.lose_reply_for.discard(envelope.rcpt_tos[0])
            self.accept(session, envelope)
            server.transport.close()
            return "250 OK"
        return self.accept(session, envelope)


class Controller_(Controller):
    """aiosmtpd's Controller on an ephemeral port (port 0, read back after bind)."""

    def _trigger_server(self) -> None:
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@dataclass
class Server:
    handler: Sink
    port: int
    ca_file: Path | None = None
    host: str = "127.0.0.1"


def authenticate(server, session, envelope, mechanism, auth_data):  # noqa: ANN001, ANN202
    ok = isinstance(auth_data, LoginPassword) and (
        auth_data.login.decode() == USER and auth_data.password.decode() == PASSWORD
    )
    return AuthResult(success=ok, handled=False)


def start_server(handler: Sink, **options: object) -> tuple[Controller_, Server]:
    controller = Controller_(handler, hostname="127.0.0.1", port=0, **options)
    controller.start()
    return controller, Server(handler, controller.port)


# --- project helpers ------------------------------------------------------------------


def configure_smtp(project: Path, server: Server, **smtp: object) -> None:
    """Append an [smtp] (and optional [sending]) section to the project's config."""
    sending = {
        k.removeprefix("sending_"): smtp.pop(k) for k in list(smtp) if k.startswith("sending_")
    }
    values = {"host": server.host, "port": server.port, "security": "none", **smtp}
    lines = ["", "[smtp]", *(f"{key} = {_toml(value)}" for key, value in values.items())]
    if sending:
        lines += ["", "[sending]", *(f"{key} = {_toml(value)}" for key, value in sending.items())]
    with (project / "newsletter.toml").open("a", encoding="utf-8") as file:
        file.write("\n".join(lines) + "\n")


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return f'"{value}"' if isinstance(value, str) else str(value)


def add_subscribers(store, count: int, domain: str = "example.org", start: int = 0) -> list[str]:  # noqa: ANN001
    """Insert `count` active subscribers in one transaction; returns their addresses."""
    emails = [f"person{n:05d}@{domain}" for n in range(start, start + count)]
    with store.write():
        for n, email in enumerate(emails, start):
            store.insert_subscriber(email, {"name": f"Person {n}"}, {}, "test")
    return emails


def simple_builder(sender: str = "newsletter@example.org"):  # noqa: ANN201
    """A tiny message builder for the loop tests (the real one is tested with the CLI)."""
    lock = threading.Lock()
    built: list[str] = []

    def build(subscriber: Subscriber) -> OutgoingMessage:
        message_id = f"<{uuid.uuid4().hex}@example.org>"
        data = (
            f"From: {sender}\r\nTo: {subscriber.email}\r\nSubject: Test\r\n"
            f"Message-ID: {message_id}\r\n\r\nHello {subscriber.name}\r\n.dot line\r\n"
        ).encode()
        with lock:
            built.append(subscriber.email)
        return OutgoingMessage(message_id, sender, subscriber.email, data)

    build.built = built  # type: ignore[attr-defined]
    return build
