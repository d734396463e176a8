"""The return mailbox as an IMAP folder, over TLS with the certificate verified.

Messages are read with BODY.PEEK[] (a message left for a person stays
unread) and a processed one is moved to `done_folder` (UID MOVE, RFC 6851,
or COPY, delete and UID EXPUNGE where the server lacks MOVE).
"""

from __future__ import annotations

import contextlib
import imaplib
import socket
import ssl
from collections.abc import Iterator

from newsletter.config import ImapConfig
from newsletter.errors import MailboxError
from newsletter.returns.box import ReturnedMail


class ImapBox:
    def __init__(
        self, imap: ImapConfig, password: str, *, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        self.imap = imap
        self.password = password
        self.ssl_context = ssl_context or ssl.create_default_context()
        self.description = f"IMAP {imap.username}@{imap.host}:{imap.port}/{imap.folder}"
        self._session: imaplib.IMAP4 | None = None
        self._done_ready = False

    def open(self) -> None:
        try:
            self._session = self._connect()
            self._session.login(self.imap.username, self.password)
            self._check(
                self._session.select(_quoted(self.imap.folder)), f"folder {self.imap.folder}"
            )
        except imaplib.IMAP4.error as error:
            self.close()
            raise MailboxError(
                f"{self.description}: {_message(error)}",
                hint="check bounces.imap.username, the password in bounces.imap.password_env"
                " and bounces.imap.folder",
            ) from None
        except ssl.SSLCertVerificationError as error:
            raise MailboxError(
                f"{self.description}: TLS certificate not trusted: {error.verify_message}",
                hint="the server's certificate must be valid for bounces.imap.host and signed"
                " by an authority this machine trusts",
            ) from None
        except (OSError, socket.gaierror) as error:
            raise MailboxError(
                f"{self.description}: cannot connect: {error.strerror or error}",
                hint="check bounces.imap.host, port and security",
            ) from None

    def _connect(self) -> imaplib.IMAP4:
        host, port, timeout = self.imap.host, self.imap.port, self.imap.timeout
        if self.imap.security == "ssl":
            return imaplib.IMAP4_SSL(host, port, ssl_context=self.ssl_context, timeout=timeout)
        session = imaplib.IMAP4(host, port, timeout=timeout)
        if self.imap.security == "starttls":
            session.starttls(ssl_context=self.ssl_context)
        return session

    def messages(self) -> Iterator[ReturnedMail]:
        session = self._require()
        typ, data = session.uid("SEARCH", "ALL")
        self._check((typ, data), "search")
        for uid in (data[0] or b"").split():
            typ, parts = session.uid("FETCH", uid.decode(), "(BODY.PEEK[])")
            self._check((typ, parts), "fetch")
            raw = next((part[1] for part in parts if isinstance(part, tuple)), None)
            if raw is not None:
                yield ReturnedMail(raw, ref=uid.decode())

    def done(self, mail: ReturnedMail) -> None:
        session = self._require()
        folder = _quoted(self.imap.done_folder)
        if not self._done_ready:
            session.create(folder)  # "already exists" is fine
            self._done_ready = True
        if "MOVE" in session.capabilities:
            self._check(session.uid("MOVE", mail.ref, folder), "move")
            return
        self._check(session.uid("COPY", mail.ref, folder), "copy")
        self._check(session.uid("STORE", mail.ref, "+FLAGS.SILENT", r"(\Deleted)"), "delete")
        if "UIDPLUS" in session.capabilities:
            self._check(session.uid("EXPUNGE", mail.ref), "expunge")
        else:
            self._check(session.expunge(), "expunge")

    def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            with contextlib.suppress(imaplib.IMAP4.error, OSError):
                session.logout()

    def _require(self) -> imaplib.IMAP4:
        if self._session is None:
            raise MailboxError(f"{self.description}: not connected")
        return self._session

    def _check(self, reply: tuple[str, list], what: str) -> None:
        typ, data = reply
        if typ != "OK":
            detail = b" ".join(d for d in data if isinstance(d, bytes)).decode("utf-8", "replace")
            raise MailboxError(f"{self.description}: {what} failed: {detail or typ}")


def _quoted(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _message(error: Exception) -> str:
    text = error.args[0] if error.args else error
    return text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
