"""Can returned mail reach the bounce address? Its domain needs an MX (or an A/AAAA)."""

from __future__ import annotations

from newsletter.doctor.dns import Dns, DnsFailure
from newsletter.doctor.findings import Finding, ok, problem, warning

TOPIC = "bounces"


def check_mail_host(dns: Dns, address: str) -> list[Finding]:
    domain = address.rpartition("@")[2].encode("idna").decode("ascii")
    try:
        hosts = sorted(
            (record.preference, str(record.exchange)) for record in dns.records(domain, "MX")
        )
        if hosts:
            if hosts == [(0, ".")]:
                return [
                    problem(
                        TOPIC,
                        f"{domain} says it accepts no mail (null MX): bounces to {address} are lost",
                        "use a bounce address whose domain receives mail",
                    )
                ]
            names = ", ".join(name.rstrip(".") for _pref, name in hosts)
            return [ok(TOPIC, f"mail for {address} goes to {names}")]
        if dns.records(domain, "A") or dns.records(domain, "AAAA"):
            return [
                warning(
                    TOPIC,
                    f"{domain} has no MX record; mail for {address} goes to its A/AAAA host",
                    f"publish an MX record for {domain}",
                )
            ]
    except DnsFailure as error:
        return [warning(TOPIC, f"could not look up {error}", "try again later")]
    return [
        problem(
            TOPIC,
            f"{domain} has no MX, A or AAAA record: bounces to {address} cannot arrive",
            f"publish an MX record for {domain}, or use a bounce address that receives mail",
        )
    ]
