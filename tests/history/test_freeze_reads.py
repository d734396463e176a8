"""A freeze honours what the journal says people already had, without reading every
line ever written: only a database that met lines it could not place reads them all."""

from __future__ import annotations

import pytest

from newsletter.db.journal import Journal

from support.render import fill_in
from support.smtp import add_subscribers


@pytest.fixture
def reads(monkeypatch) -> list[tuple[int, bytes]]:
    """(start, only) of every read of the journal's delivery lines for one issue."""
    seen: list[tuple[int, bytes]] = []
    real = Journal.entries

    def watched(self, start=0, *, only=b"", skip=None):  # noqa: ANN001, ANN202
        if only:
            seen.append((start, only))
        return real(self, start, only=only, skip=skip)

    monkeypatch.setattr(Journal, "entries", watched)
    return seen


def send(cli, project, slug: str) -> None:  # noqa: ANN001
    assert cli("issue", "new", slug, "--subject", slug).exit_code == 0
    fill_in(project, slug)
    result = cli("send", slug, "--yes")
    assert result.exit_code == 0, result.output


def test_a_freeze_reads_none_of_the_past_when_the_database_placed_every_line(
    project, store, cli, reads
):
    add_subscribers(store, 30)
    store.close()
    send(cli, project, "2026-11")
    size_after_first = (project / "newsletter.journal").stat().st_size
    reads.clear()
    send(cli, project, "2026-12")
    starts = [start for start, only in reads if only == Journal.delivery_prefix("2026-12")]
    assert starts and min(starts) >= size_after_first


def test_after_a_rebuild_the_freeze_reads_it_all_and_honours_it(
    project, store, cli, smtp_server, reads, tmp_path
):
    from support.smtp import configure_smtp
    from support.subscribers import write_csv

    emails = add_subscribers(store, 10)
    store.close()
    configure_smtp(project, smtp_server, connections=1, rate=0)
    send(cli, project, "2026-12")
    assert cli("restore", "--empty", "--yes").exit_code == 0
    members = write_csv(tmp_path, "Email\n" + "\n".join([*emails, "new@example.org"]) + "\n")
    assert cli("subscribers", "import", str(members)).exit_code == 0
    reads.clear()
    again = cli("send", "2026-12", "--yes")
    assert again.exit_code == 0, again.output
    assert (0, Journal.delivery_prefix("2026-12")) in reads
    assert smtp_server.handler.recipients().count("new@example.org") == 1
    assert len(smtp_server.handler.messages) == 11  # the ten once, the newcomer once
