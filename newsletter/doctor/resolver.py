"""Whether the resolver can answer at all, before its answers are read as facts.

A resolver on a captive or offline network (a hotel's wifi, a sandbox) says
"no such name" for every name; read naively, every record would be reported
missing. The root of DNS exists for every resolver that can see the Internet,
and so does the top-level domain of any real From address: either tells "your
domain has no record" from "this resolver knows nothing".
"""

from __future__ import annotations

from newsletter.doctor.dns import Dns, DnsFailure
from newsletter.doctor.findings import Finding, problem

ROOT = "."


def check_resolver(dns: Dns, domain: str) -> list[Finding]:
    """[] when the DNS checks can be trusted; else the one problem to show instead."""
    top_level = domain.rstrip(".").rpartition(".")[2]
    if any(_exists(dns, name) for name in (domain, top_level, ROOT)):
        return []
    return [
        problem(
            "DNS",
            "cannot check DNS from here: this resolver finds no name at all, not even "
            f"{top_level!r} or the root of DNS (an offline or captive network?), so SPF, DKIM, DMARC and "
            "the bounce address's mail host were not checked",
            "run `newsletter doctor` on a machine that reaches DNS, or name a working "
            "server with --nameserver HOST",
        )
    ]


def _exists(dns: Dns, name: str) -> bool:
    try:
        return dns.exists(name)
    except DnsFailure:
        return False
