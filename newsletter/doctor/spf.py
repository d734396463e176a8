"""The SPF check (RFC 7208) of the envelope domain: one record, not +all, <= 10 look-ups."""

from __future__ import annotations

from newsletter.doctor.dns import Dns, DnsFailure
from newsletter.doctor.findings import Finding, ok, problem, warning

TOPIC = "SPF"
LOOKUP_LIMIT = 10  # RFC 7208 4.6.4: more is a permerror, and the mail fails SPF
_COUNTED = ("include", "a", "mx", "ptr", "exists", "redirect")


class SpfError(Exception):
    pass


def spf_record(dns: Dns, domain: str) -> str | None:
    """The domain's SPF record, None if it has none; SpfError if it has several."""
    records = [text for text in dns.txt(domain) if _is_spf(text)]
    if len(records) > 1:
        raise SpfError(f"{domain} has {len(records)} SPF records (a receiver rejects them all)")
    return records[0] if records else None


def _is_spf(text: str) -> bool:
    return text.lower() == "v=spf1" or text.lower().startswith("v=spf1 ")


def count_lookups(dns: Dns, domain: str, record: str, seen: frozenset[str] = frozenset()) -> int:
    """The DNS look-ups a receiver makes to evaluate `record`, includes followed."""
    total = 0
    for term in record.split()[1:]:
        name, target = _mechanism(term)
        if name not in _COUNTED:
            continue
        total += 1
        if name in ("include", "redirect") and target and total <= LOOKUP_LIMIT:
            if target in seen or target == domain:
                raise SpfError(f"{domain}'s SPF record loops back to {target}")
            included = spf_record(dns, target)
            if included is None:
                raise SpfError(f"{domain}'s SPF record includes {target}, which has no SPF record")
            total += count_lookups(dns, target, included, seen | {domain})
    return total


def _mechanism(term: str) -> tuple[str, str]:
    """('include', 'spf.example') for '+include:spf.example'; modifiers too."""
    term = term.lstrip("+-~?").lower()
    if term.startswith("redirect="):
        return "redirect", term.partition("=")[2]
    name, _colon, target = term.partition(":")
    return name.partition("/")[0], target


def all_qualifier(record: str) -> str | None:
    """'+', '-', '~' or '?' of the record's `all`, None when it has none."""
    for term in record.split()[1:]:
        if term.lower().lstrip("+-~?") == "all":
            return term[0] if term[0] in "+-~?" else "+"
    return None


def check_spf(dns: Dns, domain: str) -> list[Finding]:
    publish = (
        f'publish one TXT record at {domain} like "v=spf1 include:<your relay\'s domain> -all"'
    )
    try:
        record = spf_record(dns, domain)
        if record is None:
            return [problem(TOPIC, f"{domain} (the envelope domain) has no SPF record", publish)]
        lookups = count_lookups(dns, domain, record)
    except SpfError as error:
        return [problem(TOPIC, str(error), "merge or fix the SPF records into one valid record")]
    except DnsFailure as error:
        return [warning(TOPIC, f"could not look up {error}", "try again later")]
    qualifier = all_qualifier(record)
    if qualifier == "+":
        return [
            problem(
                TOPIC,
                f"{domain}'s SPF record ends in +all: anyone may send as {domain}",
                "end the record with -all (or ~all)",
            )
        ]
    if lookups > LOOKUP_LIMIT:
        return [
            problem(
                TOPIC,
                f"{domain}'s SPF record needs {lookups} DNS look-ups; receivers stop at 10",
                "remove includes you no longer use, or replace some with ip4:/ip6: ranges",
            )
        ]
    if qualifier in (None, "?") and "redirect=" not in record.lower():
        return [
            warning(
                TOPIC,
                f"{domain}'s SPF record does not refuse other senders (no -all or ~all)",
                "end the record with -all (or ~all)",
            )
        ]
    return [ok(TOPIC, f'{domain}: "{record}" ({lookups} of 10 DNS look-ups)')]
