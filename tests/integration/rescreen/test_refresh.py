"""Refreshing the lists from the emulator on the real databases: activation, no-op, delta, refusals."""

from __future__ import annotations

import json

import pytest
from kyc_core.errors import MalformedResponse
from kyc_core.lists.refresh import asset_extra, outcome_summary, refresh_list
from kyc_core.lists.versions import active_version
from kyc_core.store.db import session_scope
from kyc_core.store.models import AuditEvent, ListVersion, SourceCall
from kyc_dev.emulator import lists as emulated
from kyc_dev.emulator.faults import FaultSpec
from sqlalchemy import func, select

EMULATED = {"ofac_sdn": "ofac", "un_sc": "un", "eu_fsf": "eu"}


def _refresh_all(sources, make_guard, store) -> dict[str, dict]:
    return {
        key: outcome_summary(
            refresh_list(source, database_url=store, guard=make_guard(source.source), actor="test")
        )
        for key, source in sources.items()
    }


def _versions(store: str) -> list[tuple[str, str]]:
    with session_scope(store) as session:
        return [(v.list_key, v.status) for v in session.scalars(select(ListVersion).order_by(ListVersion.id))]


def test_first_refresh_activates_every_list_with_its_ledger_rows(emulator, sources, make_guard, store):
    outcomes = _refresh_all(sources, make_guard, store)
    dataset = emulator.state.dataset
    for key, outcome in outcomes.items():
        expected = len(emulated.entries(dataset, EMULATED[key], 1))
        assert (outcome["status"], outcome["entry_count"], outcome["added"]) == (
            "activated",
            expected,
            expected,
        )
        assert outcome["previous_version_id"] is None
    extra = asset_extra(outcomes.values())
    assert sorted(extra["version_ids"]) == sorted(o["version_id"] for o in outcomes.values())
    assert extra["lists"]["un_sc"]["content_hash"] == outcomes["un_sc"]["content_hash"]
    with session_scope(store) as session:
        calls = session.execute(select(SourceCall.source, SourceCall.outcome, SourceCall.operation)).all()
        # The OFAC publication is three files, each its own guarded call.
        assert sorted(calls) == sorted(
            [("eu", "ok", "download:eu_fsf.xml"), ("un", "ok", "download:consolidated.xml")]
            + [("ofac", "ok", f"download:{n}") for n in ("add.csv", "alt.csv", "sdn.csv")]
        )
        assert session.scalar(select(func.count()).where(SourceCall.cache_hit.is_(True))) == 0


def test_unchanged_lists_make_no_version_and_no_event(emulator, sources, make_guard, store):
    first = _refresh_all(sources, make_guard, store)
    again = _refresh_all(sources, make_guard, store)
    assert {k: o["status"] for k, o in again.items()} == dict.fromkeys(sources, "unchanged")
    assert {k: o["version_id"] for k, o in again.items()} == {k: o["version_id"] for k, o in first.items()}
    assert asset_extra(again.values()) is None
    assert _versions(store) == [(k, "active") for k in sources]
    # Unchanged content is still downloaded live every time (never served from a cache).
    assert emulator.state.stats.snapshot()["un"]["requests"] == 2


def test_version_two_activates_with_the_published_delta(emulator, sources, make_guard, store):
    first = _refresh_all(sources, make_guard, store)
    emulator.state.list_version = 2
    second = _refresh_all(sources, make_guard, store)
    with session_scope(store) as session:
        for key, outcome in second.items():
            expected = emulated.expected_delta(emulator.state.dataset, EMULATED[key])
            assert outcome["status"] == "activated"
            assert outcome["previous_version_id"] == first[key]["version_id"]
            delta = session.get(ListVersion, outcome["version_id"]).delta
            for part in ("added", "changed", "removed"):
                assert set(delta[part]) == {str(uid) for uid in expected[part]}, (key, part)
                assert outcome[part] == len(expected[part])
            assert session.get(ListVersion, first[key]["version_id"]).status == "superseded"
    extra = asset_extra(second.values())
    assert extra["lists"]["ofac_sdn"]["added"] == 3 and extra["lists"]["eu_fsf"]["removed"] == 1


def test_truncated_download_is_refused_and_the_active_version_stays(emulator, sources, make_guard, store):
    first = _refresh_all(sources, make_guard, store)
    emulator.state.list_version = 2
    emulator.state.faults.set("un", FaultSpec(truncate_rate=1.0, truncate_mode="body"))
    outcome = refresh_list(sources["un_sc"], database_url=store, guard=make_guard("un"), actor="test")
    assert outcome.status == "refused"
    assert "truncated or corrupted" in outcome.reason
    with session_scope(store) as session:
        assert active_version(session, "un_sc").id == first["un_sc"]["version_id"]
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.event_type == "list_version_refused")
        ).one()
        assert json.loads(event.payload)["version_id"] == outcome.version_id
        assert session.get(ListVersion, outcome.version_id).refusal_reason == outcome.reason
    assert asset_extra([outcome_summary(outcome)]) is None
    # Once the publisher serves a whole file again, the next refresh activates it.
    emulator.state.faults.clear("un")
    healed = refresh_list(sources["un_sc"], database_url=store, guard=make_guard("un"), actor="test")
    assert (healed.status, healed.previous_version_id) == ("activated", first["un_sc"]["version_id"])


def test_cut_connection_is_retried_then_fails_without_writing_a_version(emulator, sources, make_guard, store):
    emulator.state.faults.set("eu", FaultSpec(truncate_rate=1.0, truncate_mode="connection"))
    with pytest.raises(MalformedResponse, match="truncated body"):
        refresh_list(sources["eu_fsf"], database_url=store, guard=make_guard("eu"), actor="test")
    assert _versions(store) == []
    with session_scope(store) as session:
        call = session.scalars(select(SourceCall)).one()
    assert (call.source, call.outcome, call.attempts, call.error_class) == (
        "eu",
        "error",
        3,
        "MalformedResponse",
    )


def test_a_file_holding_another_list_is_refused(emulator, sources, make_guard, store):
    from kyc_core.lists.sources import resolve_source

    wrong = resolve_source(
        "un_sc", emulator.root + "/lists", {"lists": {"un_sc": sources["eu_fsf"].files[0].url}}
    )
    outcome = refresh_list(wrong, database_url=store, guard=make_guard("un"), actor="test")
    assert (outcome.status, outcome.list_key) == ("refused", "un_sc")
    assert outcome.reason == "the download holds the eu_fsf list, not un_sc"
    assert _versions(store) == [("un_sc", "refused")]


def test_an_outage_opens_the_breaker_and_later_refreshes_do_not_call(emulator, sources, make_guard, store):
    from kyc_core.errors import CircuitOpen, TransientSourceError

    emulator.state.faults.set("un", FaultSpec(outage="503"))
    # Three attempts per refresh; the fifth consecutive failure opens the breaker.
    for _ in range(2):
        with pytest.raises(TransientSourceError, match="server error 503"):
            refresh_list(sources["un_sc"], database_url=store, guard=make_guard("un"), actor="test")
    arrived = emulator.state.stats.snapshot()["un"]["requests"]
    assert arrived == 5
    with pytest.raises(CircuitOpen):
        refresh_list(sources["un_sc"], database_url=store, guard=make_guard("un"), actor="test")
    assert emulator.state.stats.snapshot()["un"]["requests"] == arrived
    assert _versions(store) == []
    with session_scope(store) as session:
        outcomes = session.scalars(select(SourceCall.outcome).order_by(SourceCall.id)).all()
    assert outcomes == ["error", "error", "circuit_open"]
