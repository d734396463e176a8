"""`newsletter doctor` against a real DNS server (dnsmasq on loopback), a real SMTP
server and a loopback https endpoint: a good zone passes, each broken one is named."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.dkim import enable_signing
from support.dnsmasq import DnsServer, Zone
from support.smtp import configure_smtp

GOOD = "good.example"


def configure(project: Path, domain: str, zones, health, dkim_domain: str | None = None) -> None:  # noqa: ANN001
    config = project / "newsletter.toml"
    text = config.read_text(encoding="utf-8")
    text = text.replace("newsletter@example.org", f"newsletter@{domain}")
    config.write_text(text.replace("https://news.example.org", health.base_url), encoding="utf-8")
    enable_signing(project, zones.pem, domain=dkim_domain)


def doctor(cli, zones):  # noqa: ANN001, ANN201
    result = cli("doctor", "--nameserver", zones.server.nameserver)
    lines = [
        line
        for line in result.output.splitlines()
        if line.split(" ")[0] in ("ok", "warning", "problem")
    ]
    return result, {line.split()[1].rstrip(":"): line for line in lines}


def test_a_good_zone_is_all_ok(cli, project: Path, zones, health, smtp_server) -> None:  # noqa: ANN001
    configure(project, GOOD, zones, health)
    configure_smtp(project, smtp_server)
    result, lines = doctor(cli, zones)
    assert result.exit_code == 0, result.output
    assert list(lines) == [
        "config",
        "relay",
        "DKIM",
        "SPF",
        "DMARC",
        "alignment",
        "bounces",
        "base_url",
    ]
    assert all(line.startswith("ok") for line in lines.values()), result.output
    assert "newsletter._domainkey.good.example publishes the signing key" in lines["DKIM"]
    assert "(1 of 10 DNS look-ups)" in lines["SPF"]
    assert "policy quarantine" in lines["DMARC"]
    assert "mx.good.example" in lines["bounces"]
    assert "0 problem(s), 0 warning(s)" in result.output


@pytest.mark.parametrize(
    ("domain", "dkim_domain", "topic", "expected"),
    [
        ("nodmarc.example", None, "DMARC", "nodmarc.example has no DMARC record"),
        (
            GOOD,
            "other.example",
            "alignment",
            "DKIM d=other.example NOT aligned with From good.example",
        ),
        ("spfall.example", None, "SPF", "ends in +all: anyone may send as spfall.example"),
        ("wrongkey.example", None, "DKIM", "is not the key newsletter signs with"),
        ("spfdeep.example", None, "SPF", "needs 11 DNS look-ups; receivers stop at 10"),
        (
            "nowhere.example",
            None,
            "DKIM",
            "no DKIM key is published at newsletter._domainkey.nowhere.example",
        ),
    ],
)
def test_a_broken_zone_is_a_problem_with_what_to_do(
    cli,
    project: Path,
    zones,
    health,
    domain: str,
    dkim_domain: str | None,
    topic: str,
    expected: str,
) -> None:  # noqa: ANN001
    configure(project, domain, zones, health, dkim_domain)
    result, lines = doctor(cli, zones)
    assert result.exit_code == 1, result.output
    assert lines[topic].startswith("problem"), result.output
    assert expected in lines[topic]
    assert " -> " in lines[topic]  # says what to do
    others = {name: line for name, line in lines.items() if name not in (topic, "relay")}
    if domain != "nowhere.example":
        assert all(line.startswith("ok") for line in others.values()), result.output


def test_the_optional_ed25519_key_is_checked_against_its_own_record(
    cli, project: Path, zones, health
) -> None:  # noqa: ANN001
    configure(project, GOOD, zones, health)
    key_file = project / "dkim" / "newsletter-ed25519.pem"
    key_file.write_bytes(zones.ed25519_pem)
    key_file.chmod(0o600)
    with (project / "newsletter.toml").open("a", encoding="utf-8") as config:
        config.write('ed25519_key_file = "dkim/newsletter-ed25519.pem"\n')
    result, _lines = doctor(cli, zones)
    assert result.exit_code == 0, result.output
    assert (
        "ok       DKIM: newsletter._domainkey.good.example publishes the signing key"
        in result.output
    )
    assert (
        "ok       DKIM: newsletter-ed25519._domainkey.good.example publishes the signing key (Ed25519)"
        in result.output
    )
    config = project / "newsletter.toml"
    config.write_text(
        config.read_text(encoding="utf-8").replace(GOOD, "wrongkey.example"), encoding="utf-8"
    )
    result, _lines = doctor(cli, zones)
    assert (
        "problem  DKIM: no DKIM key is published at newsletter-ed25519._domainkey.wrongkey.example"
        in result.output
    )


def test_no_dkim_and_no_smtp_are_warnings_not_problems(cli, project: Path, zones, health) -> None:  # noqa: ANN001
    configure(project, GOOD, zones, health)
    config = project / "newsletter.toml"
    config.write_text(config.read_text(encoding="utf-8").split("\n[dkim]")[0], encoding="utf-8")
    result, lines = doctor(cli, zones)
    assert result.exit_code == 0, result.output
    assert lines["DKIM"].startswith("warning") and "does not sign" in lines["DKIM"]
    assert lines["relay"].startswith("warning") and "outbox" in lines["relay"]
    assert lines["alignment"].startswith("warning")


def test_an_untrusted_certificate_or_plain_http_is_a_problem(
    cli, project: Path, zones, health, monkeypatch
) -> None:  # noqa: ANN001
    configure(project, GOOD, zones, health)
    monkeypatch.delenv("SSL_CERT_FILE")
    _result, lines = doctor(cli, zones)
    assert lines["base_url"].startswith("problem")
    assert "certificate cannot be verified" in lines["base_url"]
    config = project / "newsletter.toml"
    config.write_text(
        config.read_text(encoding="utf-8").replace("https://", "http://"), encoding="utf-8"
    )
    result, lines = doctor(cli, zones)
    assert result.exit_code == 1
    assert "is not https" in lines["base_url"]


def test_a_refused_relay_login_is_a_problem(cli, project: Path, zones, health) -> None:  # noqa: ANN001
    configure(project, GOOD, zones, health)
    with (project / "newsletter.toml").open("a", encoding="utf-8") as config:
        config.write('\n[smtp]\nhost = "127.0.0.1"\nport = 9\nsecurity = "none"\n')
    result, lines = doctor(cli, zones)
    assert result.exit_code == 1
    assert lines["relay"].startswith("problem") and "refused" in lines["relay"]


def test_a_bad_config_is_one_problem_line(cli, project: Path) -> None:  # noqa: ANN001
    (project / "newsletter.toml").write_text("[newsletter]\nname = 1\n", encoding="utf-8")
    result = cli("doctor")
    assert result.exit_code == 1
    assert result.output.startswith("problem  config:")
    assert "Traceback" not in result.output


def test_a_bad_nameserver_is_an_error_line(cli, project: Path) -> None:  # noqa: ANN001
    result = cli("doctor", "--nameserver", "127.0.0.1:99999")
    assert result.exit_code == 1
    assert "error: --nameserver: '127.0.0.1:99999' has a bad port" in result.output


def test_a_resolver_that_knows_no_name_is_named_not_every_record(
    cli, project: Path, zones, health
) -> None:  # noqa: ANN001
    """A captive or offline network's resolver says "no such name" for every name:
    the doctor says it cannot check DNS, instead of calling every record missing."""
    configure(project, GOOD, zones, health)
    knows_nothing = DnsServer(Zone(local=["#"]))
    try:
        result = cli("doctor", "--nameserver", knows_nothing.nameserver)
    finally:
        knows_nothing.stop()
    assert result.exit_code == 1
    assert "cannot check DNS from here" in result.output
    topics = [line.split()[1].rstrip(":") for line in result.output.splitlines() if line]
    assert not {"SPF", "DMARC", "DKIM", "bounces"} & set(topics), result.output


def test_a_missing_domain_is_still_reported_by_a_resolver_that_answers(
    cli, project: Path, zones, health
) -> None:  # noqa: ANN001
    configure(project, "missing.example", zones, health)
    result, lines = doctor(cli, zones)
    assert "cannot check DNS from here" not in result.output
    assert lines["SPF"].startswith("problem"), result.output
