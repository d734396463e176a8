"""A private Postfix and a private Dovecot, started from generated configs on
loopback ports, each in its own temporary folder (own config, queue and state
directories: the machine's own mail system is never touched).

- `Postfix`: a relay on 127.0.0.1 that sends everything (mail and the DSNs it
  writes itself) on to one `relayhost`: an aiosmtpd `FinalMx` standing in for
  the recipients' servers and the bounce mailbox. `maximal_queue_lifetime = 0`
  makes it try once, so a 4xx becomes a DSN at once instead of days later.
- `Dovecot`: IMAP over TLS (the given certificate) with one user.
Both need the Debian packages (postfix, dovecot-imapd); Postfix needs root.
"""

from __future__ import annotations

import imaplib
import mailbox
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from support.smtp import Sink

POSTFIX_MAIN = """\
compatibility_level = 3.6
queue_directory = {root}/queue
data_directory = {root}/data
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = relay.test
mydomain = relay.test
myorigin = relay.test
mydestination =
mynetworks = 127.0.0.0/8
relayhost = [127.0.0.1]:{relay_port}
smtp_tls_security_level = none
smtpd_tls_security_level = none
smtpd_relay_restrictions = permit_mynetworks, reject
maximal_queue_lifetime = 0
bounce_queue_lifetime = 0
local_transport = error:local delivery is off
alias_maps =
alias_database =
biff = no
maillog_file_prefixes = {root}
maillog_file = {root}/maillog
"""
POSTFIX_MASTER = """\
127.0.0.1:{port} inet n - n - - smtpd
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n - - proxymap
smtp      unix  - - n - - smtp
relay     unix  - - n - - smtp
showq     unix  n - n - - showq
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
"""
DOVECOT_CONF = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = required
ssl_cert = <{cert}
ssl_key = <{key}
auth_mechanisms = plain
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%n
}}
mail_location = maildir:~/Maildir
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {starttls_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
default_login_user = {login_user}
default_internal_user = {internal_user}
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {seconds} s")


def shared_tempdir(prefix: str) -> Path:
    """A folder the servers' own users can enter (pytest's are private to root)."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    root.chmod(0o755)
    return root


@dataclass
class FinalMx(Sink):
    """The recipients' servers and the bounce mailbox in one: refuses the scripted
    recipients, files mail for the bounce address into `maildir`."""

    maildir: Path | None = None
    bounce_local: str = "bounces"
    rcpt: dict[str, str] = field(default_factory=dict)
    data: dict[str, str] = field(default_factory=dict)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: ANN001, ANN201
        if address in self.rcpt:
            return self.rcpt[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201
        address = envelope.rcpt_tos[0]
        if address in self.data:
            return self.data[address]
        if self.maildir is not None and address.startswith(self.bounce_local):
            mailbox.Maildir(self.maildir, create=True).add(envelope.content)
            return "250 2.0.0 filed"
        return self.accept(session, envelope)


class Postfix:
    def __init__(self, relay_port: int) -> None:
        self.root = shared_tempdir("newsletter-postfix-")
        self.port = free_port()
        self.host = "127.0.0.1"
        config = self.root / "etc"
        config.mkdir()
        (self.root / "queue").mkdir()
        (self.root / "data").mkdir()
        shutil.chown(self.root / "data", "postfix")
        (config / "main.cf").write_text(POSTFIX_MAIN.format(root=self.root, relay_port=relay_port))
        (config / "master.cf").write_text(POSTFIX_MASTER.format(port=self.port))
        self.config = config

    def start(self) -> None:
        self._postfix("start")
        wait_for_port(self.port)

    def stop(self) -> None:
        self._postfix("stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def log(self) -> str:
        path = self.root / "maillog"
        return path.read_text(errors="replace") if path.exists() else ""

    def _postfix(self, command: str) -> None:
        result = subprocess.run(
            ["postfix", "-c", str(self.config), command],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(f"postfix {command} failed: {result.stderr}{self.log()[-2000:]}")


class Dovecot:
    def __init__(self, cert: Path, key: Path, user: str, password: str) -> None:
        self.root = shared_tempdir("newsletter-dovecot-")
        self.port = free_port()  # IMAPS (TLS from the start)
        self.starttls_port = free_port()  # IMAP with STARTTLS (required before login)
        self.host = "127.0.0.1"
        self.user, self.password, self.ca_file = user, password, cert
        name = user.partition("@")[0]
        home = self.root / "home" / name
        home.mkdir(parents=True)
        is_root = os.geteuid() == 0
        uid, gid = (65534, 65534) if is_root else (os.getuid(), os.getgid())
        if is_root:
            os.chown(home, uid, gid)
        me = "dovenull" if is_root else _user_name()
        (self.root / "passwd").write_text(f"{user}:{{PLAIN}}{password}::::::\n")
        self.config = self.root / "dovecot.conf"
        self.config.write_text(
            DOVECOT_CONF.format(
                root=self.root,
                cert=cert,
                key=key,
                uid=uid,
                gid=gid,
                port=self.port,
                starttls_port=self.starttls_port,
                login_user=me,
                internal_user="dovecot" if is_root else me,
            )
        )

    def start(self) -> None:
        subprocess.run(["dovecot", "-c", str(self.config)], check=True, timeout=30)
        wait_for_port(self.port)
        wait_for_port(self.starttls_port)

    def stop(self) -> None:
        subprocess.run(["dovecot", "-c", str(self.config), "stop"], timeout=30, check=False)
        deadline = time.monotonic() + 10  # `stop` returns before the processes are gone
        while (self.root / "run" / "master.pid").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        shutil.rmtree(self.root, ignore_errors=True)

    def session(self) -> imaplib.IMAP4_SSL:
        context = ssl.create_default_context(cafile=str(self.ca_file))
        session = imaplib.IMAP4_SSL(self.host, self.port, ssl_context=context, timeout=10)
        session.login(self.user, self.password)
        return session

    def append(self, *messages: bytes) -> None:
        """What the mail server does: each message lands in INBOX."""
        session = self.session()
        for message in messages:
            session.append("INBOX", None, None, message)
        session.logout()

    def messages(self, folder: str = "INBOX") -> list[bytes]:
        session = self.session()
        typ, _ = session.select(f'"{folder}"', readonly=True)
        found = []
        if typ == "OK":
            _typ, data = session.uid("SEARCH", None, "ALL")
            for uid in (data[0] or b"").split():
                _typ, parts = session.uid("FETCH", uid.decode(), "(BODY.PEEK[])")
                found += [part[1] for part in parts if isinstance(part, tuple)]
        session.logout()
        return found

    def clear(self) -> None:
        """Empty every folder, so each test starts from an empty mailbox."""
        session = self.session()
        _typ, folders = session.list()
        for line in folders:
            name = line.decode().rsplit(' "." ', 1)[-1].rsplit(' "/" ', 1)[-1].strip('"')
            if name.upper() == "INBOX":
                _typ, count = session.select("INBOX")
                if int(count[0] or 0):
                    session.store("1:*", "+FLAGS.SILENT", r"(\Deleted)")
                    session.expunge()
            else:
                session.delete(f'"{name}"')
        session.logout()


def _user_name() -> str:
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name
