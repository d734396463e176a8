from pathlib import Path

import pytest

from newsletter.config import load_config
from newsletter.errors import ConfigError

BASE = """
[newsletter]
name = "Co-pro"
from = "All in this Together <newsletter@example.org>"
base_url = "https://news.example.org/"
postal_address = "Cardiff, Wales"
"""


def write(project: Path, text: str) -> Path:
    (project / "newsletter.toml").write_text(text, encoding="utf-8")
    return project


def test_init_config_loads_with_outbox_default(project):
    config = load_config(project)
    assert config.smtp is None
    assert config.outbox_dir == project.resolve() / "outbox"
    assert config.list_id == "news.example.org"


def test_base_url_trailing_slash_is_dropped(project):
    config = load_config(write(project, BASE))
    assert config.base_url == "https://news.example.org"
    assert config.from_name == "All in this Together"
    assert config.from_address == "newsletter@example.org"


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        ('[smtp]\nhots = "x"\n', "smtp.hots"),
        ('[smtp]\nhost = "mail.example.org"\nport = "587"\n', "smtp.port"),
        ('[smtp]\nhost = "mail.example.org"\nsecurity = "tls"\n', "smtp.security"),
        ('[smtp]\nhost = "mail.example.org"\nsecurity = "none"\n', "security"),
        ('[smtp]\nhost = "mail.example.org"\nusername = "u"\n', "smtp.password_env"),
        ('[smtp]\nhost = "mail.example.org"\npipelining = "off"\n', "smtp.pipelining"),
        ("[unknown]\n", "[unknown]"),
        ('[subscribe]\nrecord_ip = "yes"\n', "subscribe.record_ip"),
        ("[subscribe]\nconfirm_hours = 0\n", "subscribe.confirm_hours"),
        ("[subscribe]\nper_client_per_hour = true\n", "subscribe.per_client_per_hour"),
        ('[smtp]\nhost = "h"\nquota = ["30/minutes!"]\n', "'smtp.quota' entry '30/minutes!'"),
        ('[smtp]\nhost = "h"\nquota = ["0/minute"]\n', "'smtp.quota' entry '0/minute'"),
        ('[smtp]\nhost = "h"\nquota = 30\n', "'smtp.quota' must be a list"),
        ('[sending]\ngive_up_after = "soon"\n', "'sending.give_up_after' must be a duration"),
        ("[sending]\ngive_up_after = 0\n", "'sending.give_up_after' must be a duration"),
        ("[sending]\ngive_up_after = true\n", "'sending.give_up_after' must be a number"),
    ],
)
def test_config_errors_name_the_key(project, extra, key):
    with pytest.raises(ConfigError) as caught:
        load_config(write(project, BASE + extra))
    assert key in caught.value.message


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        (
            'from = "All in this Together <newsletter@example.org>"',
            'from = "not an address"',
            "newsletter.from",
        ),
        (
            'base_url = "https://news.example.org/"',
            'base_url = "ftp://news.example.org"',
            "newsletter.base_url",
        ),
        ('name = "Co-pro"', "name = 3", "newsletter.name"),
        ('name = "Co-pro"\n', "", "newsletter.name"),
    ],
)
def test_newsletter_section_errors_name_the_key(project, old, new, key):
    with pytest.raises(ConfigError) as caught:
        load_config(write(project, BASE.replace(old, new)))
    assert key in caught.value.message


def test_malformed_toml_is_one_line_on_the_cli(project, cli):
    write(project, "[newsletter\nname=")
    result = cli("subscribers", "list")
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert "newsletter.toml" in errors[0]


def test_smtp_password_comes_from_environment(project, monkeypatch):
    config = load_config(
        write(
            project,
            BASE
            + '[smtp]\nhost = "127.0.0.1"\nsecurity = "none"\nusername = "u"\npassword_env = "NL_TEST_PW"\n',
        )
    )
    monkeypatch.delenv("NL_TEST_PW", raising=False)
    with pytest.raises(ConfigError, match="NL_TEST_PW"):
        config.smtp.password()
    monkeypatch.setenv("NL_TEST_PW", "s3cret")
    assert config.smtp.password() == "s3cret"
    assert "s3cret" not in repr(config)


def test_subscribe_settings_have_defaults_and_can_be_set(project):
    assert load_config(write(project, BASE)).subscribe.confirm_hours == 48
    config = load_config(write(project, BASE + "[subscribe]\nrecord_ip = true\nwelcome = true\n"))
    assert (config.subscribe.record_ip, config.subscribe.welcome) == (True, True)


def test_quotas_and_give_up_after_are_read_as_windows_and_seconds(project):
    extra = (
        '[smtp]\nhost = "mail.example.org"\nquota = ["30/minute", "10000/day", "10/15s", "500/24h"]\n'
        'pipelining = false\n[sending]\ngive_up_after = "20s"\n'
    )
    config = load_config(write(project, BASE + extra))
    assert [(q.limit, q.seconds) for q in config.smtp.quota] == [
        (30, 60), (10000, 86400), (10, 15), (500, 86400)
    ]  # fmt: skip
    assert config.smtp.pipelining is False and config.sending.give_up_after == 20
    assert load_config(write(project, BASE)).sending.give_up_after == 600
    single = load_config(write(project, BASE + '[smtp]\nhost = "h"\nquota = "30/minute"\n'))
    assert single.smtp.quota[0].text == "30/minute"


@pytest.mark.parametrize("opening, closing", [("[", "]"), ("{a = ", "}")])
def test_a_config_nested_500_deep_is_one_line_not_a_traceback(project, cli, opening, closing):
    """tomllib reads nested arrays and inline tables recursively: 500 levels overflowed
    Python's stack (RecursionError from `status`)."""
    text = (project / "newsletter.toml").read_text()
    deep = opening * 500 + "1" + closing * 500
    write(project, text.replace("[newsletter]\n", f"[newsletter]\ndeep = {deep}\n", 1))
    result = cli("status")
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        "error: newsletter.toml: values nested too deeply (arrays or tables inside each other"
        " hundreds of levels deep)"
    ]
