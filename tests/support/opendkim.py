"""OpenDKIM's own verifier (opendkim-testmsg) on raw message bytes.

opendkim-testmsg asks the system resolver (/etc/resolv.conf, port 53) for keys
and has no option to name another server. So it runs in private mount and
network namespaces (`unshare`, root or user namespaces): there /etc/resolv.conf
is a bind-mounted copy naming 127.0.0.1, where a dnsmasq serving the test's
zone listens on port 53 of the namespace's own loopback. Nothing outside the
namespace is touched, and nothing started in it outlives it (a PID namespace).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from support.dnsmasq import Zone, dnsmasq_command

TESTMSG = shutil.which("opendkim-testmsg") or "/usr/sbin/opendkim-testmsg"
_SCRIPT = """\
set -e
ip link set lo up
mount --bind {resolv} /etc/resolv.conf
{dnsmasq} &
for i in $(seq 100); do
    if {python} -c "{probe}" 2>/dev/null; then break; fi
    sleep 0.05
done
set +e
{testmsg} < {message}
status=$?
kill %1
exit $status
"""
_PROBE = (
    "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_STREAM);"
    " s.settimeout(0.2); s.connect(('127.0.0.1', 53))"
)


def namespace_command() -> list[str] | None:
    """How to enter private namespaces here, or None if this machine cannot."""
    if not shutil.which("unshare") or not shutil.which("ip") or not Path(TESTMSG).exists():
        return None
    # --pid --fork: the shell is the namespace's init, so nothing outlives it.
    command = ["unshare", "--mount", "--net", "--pid", "--fork"]
    if os.geteuid() != 0:
        return None  # dnsmasq needs a real root to bind port 53 and drop privileges
    done = subprocess.run([*command, "true"], capture_output=True, timeout=30, check=False)
    return command if done.returncode == 0 else None


def _with_the_suites_clock(program: str) -> str:
    """Under `pytest --clock` the signatures carry the moved time (t=), so the verifier
    runs on it too (libfaketime: a C program, unlike Python, runs under it as is)."""
    offset = os.environ.get("NEWSLETTER_TESTS_CLOCK_OFFSET")
    faketime = shutil.which("faketime")
    if not offset:
        return program
    if faketime is None:
        pytest.skip("pytest --clock needs Debian's faketime to move OpenDKIM's clock too")
    return f"{faketime} -f {float(offset):+.0f}s {program}"


def opendkim_verify(message: bytes, zone: Zone) -> subprocess.CompletedProcess:
    """Run opendkim-testmsg on `message` against `zone`; returncode 0 means verified."""
    command = namespace_command()
    assert command is not None, "no namespaces here: the caller should have skipped"
    import sys

    with tempfile.TemporaryDirectory(prefix="opendkim-") as folder:
        work = Path(folder)
        (work / "resolv.conf").write_text("nameserver 127.0.0.1\n", encoding="ascii")
        (work / "message.eml").write_bytes(message)
        script = _SCRIPT.format(
            resolv=work / "resolv.conf",
            dnsmasq=shlex.join(dnsmasq_command(zone, 53)),
            python=shlex.quote(sys.executable),
            probe=_PROBE,
            testmsg=_with_the_suites_clock(TESTMSG),
            message=work / "message.eml",
        )
        return subprocess.run(
            [*command, "bash", "-c", script], capture_output=True, timeout=60, check=False
        )
