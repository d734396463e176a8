"""The DMARC check (RFC 7489) of the From domain, and alignment: does the DKIM
signature's domain, or the envelope (bounce) domain, belong to the From domain?"""

from __future__ import annotations

from newsletter.config import Config
from newsletter.doctor.dns import Dns, DnsFailure
from newsletter.doctor.findings import Finding, ok, problem, warning
from newsletter.mail.dkim_keys import parse_tags

TOPIC = "DMARC"
POLICIES = ("none", "quarantine", "reject")
# Second-level labels under which country-code domains register names (co.uk, org.uk, ...).
# Without the Public Suffix List this is an approximation; it only decides relaxed alignment
# between sibling names, and an exact match or a parent/child pair never depends on it.
_REGISTRY_LABELS = {"ac", "co", "com", "edu", "gov", "net", "org", "ltd", "plc", "sch", "nhs"}


def organizational_domain(domain: str) -> str:
    labels = domain.lower().rstrip(".").split(".")
    keep = 3 if len(labels) > 2 and len(labels[-1]) == 2 and labels[-2] in _REGISTRY_LABELS else 2
    return ".".join(labels[-keep:])


def aligned(domain: str, from_domain: str, mode: str) -> bool:
    """Strict: the same name. Relaxed: the same organizational domain."""
    domain, from_domain = domain.lower(), from_domain.lower()
    if mode == "s":
        return domain == from_domain
    return organizational_domain(domain) == organizational_domain(from_domain)


def dmarc_record(dns: Dns, from_domain: str) -> tuple[str, dict[str, str]] | None:
    """(where it was found, its tags): the From domain's own record, else its
    organizational domain's (RFC 7489 6.6.3)."""
    names = [from_domain]
    if organizational_domain(from_domain) != from_domain:
        names.append(organizational_domain(from_domain))
    for name in names:
        for text in dns.txt(f"_dmarc.{name}"):
            if text.replace(" ", "").lower().startswith("v=dmarc1"):
                return f"_dmarc.{name}", parse_tags(text)
    return None


def check_dmarc(config: Config, dns: Dns, envelope_domain: str) -> list[Finding]:
    from_domain = config.sender_domain.encode("idna").decode("ascii")
    try:
        found = dmarc_record(dns, from_domain)
    except DnsFailure as error:
        return [warning(TOPIC, f"could not look up {error}", "try again later")]
    if found is None:
        return [
            problem(
                TOPIC,
                f"{from_domain} has no DMARC record (Gmail and Yahoo require one of bulk senders)",
                f'publish TXT at _dmarc.{from_domain}: "v=DMARC1; p=none;'
                f' rua=mailto:dmarc-reports@{from_domain}"',
            )
        ]
    where, tags = found
    policy = tags.get("p", "").lower()
    if policy not in POLICIES:
        return [
            problem(
                TOPIC, f"{where} has no valid policy (p=)", "add p=none, p=quarantine or p=reject"
            )
        ]
    record = ok(TOPIC, f"{where}: policy {policy}")
    return [record, _alignment(config, tags, from_domain, envelope_domain, policy)]


def _alignment(
    config: Config, tags: dict[str, str], from_domain: str, envelope_domain: str, policy: str
) -> Finding:
    dkim_mode, spf_mode = tags.get("adkim", "r").lower(), tags.get("aspf", "r").lower()
    spf_ok = aligned(envelope_domain, from_domain, spf_mode)
    spf_part = f"envelope domain {envelope_domain} {'aligned' if spf_ok else 'NOT aligned'}"
    if config.dkim is None:
        if spf_ok:
            return warning(
                "alignment",
                f"{spf_part}; DKIM is left to the relay",
                f"make sure the relay signs with d={from_domain} (forwarded mail loses SPF)",
            )
        return problem(
            "alignment",
            f"{spf_part} and newsletter does not sign: mail fails DMARC (p={policy})",
            "configure [dkim] for the From domain",
        )
    dkim_ok = aligned(config.dkim.domain, from_domain, dkim_mode)
    dkim_part = f"DKIM d={config.dkim.domain} {'aligned' if dkim_ok else 'NOT aligned'}"
    if not dkim_ok:
        return problem(
            "alignment",
            f"{dkim_part} with From {from_domain}, {spf_part}: one-click unsubscribe"
            " needs a signature of the From domain",
            f'set dkim.domain = "{from_domain}" (then keygen and publish its record)',
        )
    if not spf_ok:
        return warning(
            "alignment",
            f"{dkim_part} with From {from_domain}; {spf_part}",
            "fine while DKIM passes; use a bounce address under the From domain to align SPF too",
        )
    return ok("alignment", f"{dkim_part} and {spf_part} with From {from_domain}")
