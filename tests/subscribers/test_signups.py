"""Pending sign-ups and consent records on a real SQLite file, with a clock the test moves."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from newsletter.config import load_config
from newsletter.db.connection import connect_database
from newsletter.sending.mail_queue import enqueue
from newsletter.subscribers.consent import latest_consent, register_wording
from newsletter.subscribers.signups import (
    SignupRequest,
    confirm,
    find_pending,
    later,
    open_signup,
    purge_expired,
    queue_request,
    take_requests,
)
from newsletter.subscribers.store import Store
from newsletter.web.joining_mail import JoiningMail

START = "2026-11-23T10:00:00+00:00"
DAY = timedelta(hours=48)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> str:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now = later(self.now, timedelta(**delta))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def timed(project: Path, clock: Clock):
    store = Store(connect_database(project / "newsletter.db"), clock=clock)
    yield store
    store.close()


def invite(store: Store, email: str, per_address: int = 3, **fields: str):
    with store.write():
        return open_signup(
            store, SignupRequest(email, **fields), valid_for=DAY, per_address=per_address
        )


def test_requests_are_taken_once_in_order(timed: Store) -> None:
    for email in ("a@example.org", "b@example.org"):
        queue_request(timed, SignupRequest(email, name="A"))
    with timed.write():
        assert [r.email for r in take_requests(timed)] == ["a@example.org", "b@example.org"]
        assert take_requests(timed) == []


def test_a_bounced_address_is_invited_at_most_once_a_day(timed: Store, clock: Clock) -> None:
    gone = timed.add_subscriber("gone@example.org").subscriber
    timed.record_bounce(gone.id, "550 5.1.1", limit=1)
    assert invite(timed, "gone@example.org") is not None
    assert invite(timed, "gone@example.org") is None
    clock.advance(hours=25)
    assert invite(timed, "gone@example.org") is not None


def test_an_address_is_invited_at_most_per_address_times_a_day(timed: Store, clock: Clock) -> None:
    assert invite(timed, "often@example.org", per_address=2) is not None
    assert invite(timed, "often@example.org", per_address=2) is not None
    assert invite(timed, "often@example.org", per_address=2) is None
    clock.advance(hours=25)
    assert invite(timed, "often@example.org", per_address=2) is not None


def test_only_the_newest_link_of_an_address_works(timed: Store) -> None:
    first = invite(timed, "new@example.org")
    second = invite(timed, "new@example.org")
    assert find_pending(timed, first.token) is None
    assert find_pending(timed, second.token).email == "new@example.org"


def test_confirming_records_the_wording_and_works_once(timed: Store) -> None:
    wording = register_wording(timed, "en", "I agree to receive it.")
    invitation = invite(timed, "yes@example.org", name="Yes", language="en")
    person = confirm(timed, invitation.token, wording.id)
    assert (person.status, person.name, person.source) == ("active", "Yes", "web-form")
    record = latest_consent(timed, person.id)
    assert (record.at, record.wording, record.source, record.client_ip) == (
        START, "I agree to receive it.", "web-form", None,
    )  # fmt: skip
    assert confirm(timed, invitation.token, wording.id) is None


def test_a_link_expires_and_its_sign_up_is_deleted(timed: Store, clock: Clock) -> None:
    wording = register_wording(timed, "en", "I agree.")
    invitation = invite(timed, "slow@example.org")
    clock.advance(hours=47, minutes=59)
    assert find_pending(timed, invitation.token) is not None
    clock.advance(minutes=1)
    assert find_pending(timed, invitation.token) is None
    assert confirm(timed, invitation.token, wording.id) is None
    assert purge_expired(timed) == 1
    assert timed.get_subscriber("slow@example.org") is None


def test_a_wording_is_stored_once_and_kept_after_it_changes(timed: Store) -> None:
    old = register_wording(timed, "en", "Old words.")
    assert register_wording(timed, "en", "Old words.") == old
    new = register_wording(timed, "en", "New words.")
    assert new.id != old.id and new.digest != old.digest
    invitation = invite(timed, "kept@example.org")
    person = confirm(timed, invitation.token, old.id)
    assert latest_consent(timed, person.id).wording == "Old words."


def test_forget_erases_consent_pending_sign_up_and_queued_mail(timed: Store, project: Path) -> None:
    wording = register_wording(timed, "en", "I agree.")
    person = confirm(timed, invite(timed, "erase@example.org").token, wording.id)
    invitation = invite(timed, "erase@example.org")
    message = JoiningMail(load_config(project)).confirmation(invitation)
    with timed.write():
        enqueue(timed, "confirmation", "erase@example.org", message, invitation.signup.expires_at)
    queue_request(timed, SignupRequest("Erase@Example.org"))
    timed.forget("erase@example.org")
    for table in ("consents", "signups", "mail_queue", "signup_requests"):
        assert timed.one(f"SELECT count(*) AS n FROM {table}")["n"] == 0, table
    assert latest_consent(timed, person.id) is None
