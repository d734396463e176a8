"""The store on a real SQLite file: subscribers, events, suppressions, bulk import helpers."""

from __future__ import annotations

import types

import pytest

from newsletter.errors import InputError, NotFoundError
from newsletter.subscribers.bulk_import import BulkImport
from newsletter.subscribers.tokens import looks_like_token

from support.subscribers import fresh_store, table


def test_added_subscriber_is_normalised_and_found_case_insensitively(store):
    result = store.add_subscriber("Sian.Jones@MENTER.Bücher.Example", name="Siân")
    assert result.outcome == "added"
    assert result.subscriber.email == "Sian.Jones@menter.bücher.example"
    assert store.require("SIAN.JONES@menter.xn--bcher-kva.example").id == result.subscriber.id


def test_a_non_ascii_local_part_is_refused_at_the_door(store):
    with pytest.raises(InputError, match="before the @-sign"):
        store.add_subscriber("siân@example.org")
    assert list(store.list_subscribers()) == []


def test_tokens_are_random_unique_and_url_safe(store):
    tokens = {store.add_subscriber(f"p{i}@example.org").subscriber.token for i in range(50)}
    assert len(tokens) == 50
    assert all(looks_like_token(token) for token in tokens)
    assert store.get_by_token(next(iter(tokens))) is not None


def test_line_breaks_in_profile_fields_are_removed(store):
    subscriber = store.add_subscriber(
        "ann@example.org", name="Ann\r\nBcc: x@evil.example", organisation="A\x00B"
    ).subscriber
    assert subscriber.name.split() == ["Ann", "Bcc:", "x@evil.example"]
    assert "\r" not in subscriber.name and "\n" not in subscriber.name
    assert subscriber.organisation == "AB"


def test_unsubscribe_is_idempotent_and_recorded_once(store):
    subscriber = store.add_subscriber("ann@example.org").subscriber
    assert store.unsubscribe(subscriber.id, "web") is True
    assert store.unsubscribe(subscriber.id, "web") is False
    assert not store.is_active(subscriber.id)
    kinds = [event["kind"] for event in store.events_for(subscriber.id)]
    assert kinds.count("unsubscribed") == 1


def test_bounces_up_to_the_limit_mark_bounced(store):
    subscriber = store.add_subscriber("ann@example.org").subscriber
    assert store.record_bounce(subscriber.id, "550 5.1.1 unknown", limit=2) is False
    assert store.record_bounce(subscriber.id, "550 5.1.1 unknown", limit=2) is True
    assert store.get_by_id(subscriber.id).status == "bounced"


def test_forget_keeps_only_a_salted_hash(project, store):
    subscriber = store.add_subscriber("ann@example.org", name="Ann").subscriber
    store.forget("ANN@example.org")
    assert store.get_subscriber("ann@example.org") is None
    assert store.events_for(subscriber.id) == []
    assert store.is_suppressed("Ann@Example.org")
    with fresh_store() as (_other_project, other):
        assert other.address_hash("ann@example.org") != store.address_hash("ann@example.org")
    with pytest.raises(InputError, match="forgotten"):
        store.add_subscriber("ann@example.org")
    assert store.add_subscriber("ann@example.org", resubscribe=True).outcome == "added"
    assert not store.is_suppressed("ann@example.org")


def test_unknown_subscriber_is_not_found(store):
    with pytest.raises(NotFoundError):
        store.remove("nobody@example.org")


def test_list_streams_and_filters(store):
    for name in ("Siân", "Llŷr", "Gwen"):
        store.add_subscriber(
            f"{name.encode('ascii', 'ignore').decode().lower()}@example.org", name=name
        )
    store.remove("gwen@example.org")
    listed = store.list_subscribers(status="active")
    assert isinstance(listed, types.GeneratorType)
    assert [s.name for s in listed] == ["Siân", "Llŷr"]
    assert [s.name for s in store.list_subscribers(search="ŷ")] == ["Llŷr"]
    assert store.count_by_status() == {"active": 2, "unsubscribed": 1, "bounced": 0}
    with pytest.raises(InputError, match="unknown status"):
        list(store.list_subscribers(status="gone"))


def test_write_rolls_back_everything_on_error(project, store):
    with pytest.raises(RuntimeError), store.write():
        store.add_subscriber("ann@example.org")  # a nested write: a savepoint
        raise RuntimeError("crash")
    assert table(project, "subscribers") == []
    assert table(project, "events") == []


def test_import_lookup_knows_what_this_import_has_seen(store):
    existing = store.add_subscriber("ann@example.org").subscriber
    bulk = BulkImport(store)
    with store.write():
        bulk.begin()
        found = bulk.lookup(["ann@example.org", "bob@example.org"])
        assert found["ann@example.org"] == (existing, None, None, None, None)
        assert found["bob@example.org"] == (None, None, None, None, None)
        bulk.write(
            new=[],
            changed=[],
            events=[],
            unsuppress=[],
            seen=[("bob@example.org", "line 2", None, None)],
            source="t",
        )
        assert bulk.lookup(["bob@example.org"])["bob@example.org"] == (
            None,
            "line 2",
            None,
            None,
            None,
        )
        bulk.end()


def test_attribute_keys_are_the_keys_in_use(store):
    store.add_subscriber("ann@example.org", attributes={"region": "Powys", "role": "chair"})
    store.add_subscriber("bob@example.org", attributes={"ward": "Sgeti"})
    store.remove("bob@example.org")
    assert store.attribute_keys() == ["region", "role", "ward"]
    assert store.attribute_keys("active") == ["region", "role"]


def test_address_hasher_matches_address_hash(store):
    hasher = store.address_hasher()
    assert hasher("Ann@Example.org") == store.address_hash("ann@example.org")
