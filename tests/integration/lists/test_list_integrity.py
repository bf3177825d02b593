"""List integrity on the real databases: quarantine, approval and rejection, publisher counts and dates, size cap."""

from __future__ import annotations

import argparse
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from kyc_core.cli import lists as lists_cli
from kyc_core.errors import UserError
from kyc_core.lists.model import Name, ParsedList, SanctionsEntry
from kyc_core.lists.versions import (
    active_version,
    approve_version,
    load_path,
    quarantined_versions,
    reject_version,
    store_parsed,
)
from kyc_core.store.db import session_scope
from kyc_core.store.models import AuditEvent, ListEntry, ListVersion
from sqlalchemy import func, select


def _parsed(ids, *, published_at: datetime | None = None, tag: str = "") -> ParsedList:
    entries = [
        SanctionsEntry(list_key="un_sc", native_id=str(i), entry_type="person", names=(Name(full=f"PERSON {i}{tag}"),))
        for i in ids
    ]
    return ParsedList(list_key="un_sc", source_format="un_xml", entries=entries, published_at=published_at)


def _store(url: str, ids, **kwargs):
    published_at = kwargs.pop("published_at", None)
    with session_scope(url) as session:
        return store_parsed(session, _parsed(ids, published_at=published_at), actor="test", build_index=False, **kwargs)


def _state(url: str) -> tuple[list[tuple[int, str]], int, list[str]]:
    with session_scope(url) as session:
        versions = [(v.id, v.status) for v in session.scalars(select(ListVersion).order_by(ListVersion.id))]
        entries = session.scalar(select(func.count()).select_from(ListEntry))
        events = list(
            session.scalars(
                select(AuditEvent.event_type).where(AuditEvent.event_type.like("list_version_%")).order_by(AuditEvent.seq)
            )
        )
    return versions, entries, events


def _payload(url: str, event_type: str) -> dict:
    with session_scope(url) as session:
        raw = session.scalars(
            select(AuditEvent.payload).where(AuditEvent.event_type == event_type).order_by(AuditEvent.seq.desc())
        ).first()
    return json.loads(raw)


@pytest.mark.parametrize(("removed", "status"), [(10, "activated"), (11, "quarantined")])
def test_one_percent_boundary_on_the_store(store: str, removed: int, status: str) -> None:
    first = _store(store, range(1000))
    outcome = _store(store, range(removed, 1000))
    assert (outcome.status, outcome.removed) == (status, removed)
    with session_scope(store) as session:
        expected_active = outcome.version_id if status == "activated" else first.version_id
        assert active_version(session, "un_sc").id == expected_active


def test_quarantined_version_is_stored_whole_not_activated_and_alerted(store: str) -> None:
    first = _store(store, range(6000))
    held = _store(store, range(51, 6000))
    assert held.status == "quarantined" and held.removed == 51
    assert "would remove 51 of the 6000 active entries" in held.reason
    versions, entries, events = _state(store)
    assert versions == [(first.version_id, "active"), (held.version_id, "quarantined")]
    assert entries == 6000 + 5949
    assert events == ["list_version_activated", "list_version_quarantined"]
    assert _payload(store, "list_version_quarantined")["removed"] == 51
    # Downloaded again before anyone decided: the same quarantined version, nothing new written.
    again = _store(store, range(51, 6000))
    assert (again.status, again.version_id) == ("quarantined", held.version_id)
    assert _state(store) == (versions, entries, events)
    with session_scope(store) as session:
        [waiting] = quarantined_versions(session)
    assert (waiting["version_id"], waiting["removed"], waiting["active_entries"]) == (held.version_id, 51, 6000)


def test_approval_activates_with_the_approver_audited(store: str) -> None:
    first = _store(store, range(200))
    held = _store(store, range(5, 200))
    with session_scope(store) as session:
        with pytest.raises(UserError, match="rationale of at least 5"):
            approve_version(session, held.version_id, actor="user:a1", rationale=" ok ", build_index=False)
    with session_scope(store) as session:
        outcome = approve_version(
            session, held.version_id, actor="user:a1", rationale="publisher delisted five", build_index=False
        )
    assert (outcome.status, outcome.previous_version_id, outcome.removed) == ("activated", first.version_id, 5)
    versions, _entries, events = _state(store)
    assert versions == [(first.version_id, "superseded"), (held.version_id, "active")]
    assert events[-2:] == ["list_version_approved", "list_version_activated"]
    approved = _payload(store, "list_version_approved")
    assert (approved["rationale"], approved["version_id"]) == ("publisher delisted five", held.version_id)
    assert _payload(store, "list_version_activated")["approved_by"] == "user:a1"
    with session_scope(store) as session, pytest.raises(UserError, match="is active, not quarantined"):
        reject_version(session, held.version_id, actor="user:a2", rationale="too late now")


def test_rejection_keeps_the_active_version_and_refuses_the_same_content_later(store: str) -> None:
    first = _store(store, range(200))
    held = _store(store, range(5, 200))
    with session_scope(store) as session:
        outcome = reject_version(session, held.version_id, actor="user:a2", rationale="cut download")
    assert outcome.status == "rejected"
    assert _payload(store, "list_version_rejected")["rationale"] == "cut download"
    with session_scope(store) as session:
        assert active_version(session, "un_sc").id == first.version_id
        assert session.get(ListVersion, held.version_id).status == "rejected"
    again = _store(store, range(5, 200))
    assert again.status == "refused" and f"same content as version {held.version_id}" in again.reason


def test_a_failed_approval_leaves_nothing_half_written(store: str, monkeypatch) -> None:
    import kyc_core.lists.versions as versions

    _store(store, range(200))
    held = _store(store, range(5, 200))
    before = _state(store)
    real_audit = versions._audit

    def audit_then_fail(session, event_type, *args, **kwargs):
        real_audit(session, event_type, *args, **kwargs)
        if event_type.value == "list_version_activated":
            raise RuntimeError("audit store down")

    monkeypatch.setattr(versions, "_audit", audit_then_fail)
    with pytest.raises(RuntimeError), session_scope(store) as session:
        approve_version(session, held.version_id, actor="user:a1", rationale="looks right", build_index=False)
    assert _state(store) == before


def test_a_file_dated_before_the_active_version_is_refused(store: str) -> None:
    _store(store, range(100), published_at=datetime(2026, 2, 27, tzinfo=UTC))
    stale = _store(store, range(101), published_at=datetime(2026, 1, 5, tzinfo=UTC))
    assert stale.status == "refused"
    assert stale.reason == "published 2026-01-05, before the active version (2026-02-27): a stale or replayed file"
    forced = _store(store, range(101), published_at=datetime(2026, 1, 5, tzinfo=UTC), force=True)
    assert forced.status == "activated"
    assert _payload(store, "list_version_activated")["forced"] is True


def test_truncated_ofac_with_its_end_marker_is_quarantined_not_activated(
    store: str, shared_data: Path, tmp_path: Path
) -> None:
    """The attack: sdn.csv cut at 95 % of its lines, the 0x1A end byte added back, served as a new version."""
    source = shared_data / "real/ofac/history/2024-05-02/sdn.csv"
    good = load_path(source, url=store, actor="test", build_index=False)
    lines = source.read_bytes().rstrip(b"\x1a\r\n").split(b"\r\n")
    cut = tmp_path / "sdn.csv"
    cut.write_bytes(b"\r\n".join(lines[: int(len(lines) * 0.95)]) + b"\r\n\x1a")
    outcome = load_path(cut, url=store, actor="test", build_index=False)
    assert outcome.status == "quarantined"
    assert outcome.removed == good.entry_count - outcome.entry_count > 50
    assert re.match(r"would remove \d+ of the 14973 active entries", outcome.reason)
    with session_scope(store) as session:
        assert active_version(session, "ofac_sdn").id == good.version_id
    assert _state(store)[2] == ["list_version_activated", "list_version_quarantined"]


def test_publisher_record_count_mismatch_is_refused_and_audited(
    store: str, shared_data: Path, tmp_path: Path
) -> None:
    source = shared_data / "real/ofac/legacy_xml/ofac_non_sdn.xml"
    data = source.read_text(encoding="utf-8")
    good = load_path(source, url=store, actor="test", build_index=False)
    assert (good.status, good.entry_count) == ("activated", 445)
    # Well-formed but short: the last ten records gone, the closing tag kept.
    starts = [m.start() for m in re.finditer(r"<sdnEntry>", data)]
    short = tmp_path / "CONSOLIDATED.XML"
    short.write_text(data[: starts[-10]] + "</sdnList>\n", encoding="utf-8")
    outcome = load_path(short, url=store, actor="test", build_index=False)
    assert outcome.status == "refused"
    assert outcome.reason == "CONSOLIDATED.XML: header declares 445 records but 435 were read: file corrupted"
    assert _payload(store, "list_version_refused")["reason"] == outcome.reason
    with session_scope(store) as session:
        assert active_version(session, "ofac_cons").id == good.version_id


def test_a_file_over_the_size_limit_is_refused_before_parsing(
    store: str, shared_data: Path, monkeypatch
) -> None:
    monkeypatch.setenv("KYC_LIST_MAX_FILE_MB", "0.5")
    outcome = load_path(shared_data / "real/un/UN_consolidated.xml", url=store, actor="test", build_index=False)
    assert (outcome.status, outcome.list_key, outcome.entry_count) == ("refused", "un_sc", 0)
    assert outcome.reason == (
        "UN_consolidated.xml: 2.0 MB is over the 0.5 MB limit for a list file (KYC_LIST_MAX_FILE_MB): refused before parsing"
    )
    versions, entries, events = _state(store)
    assert (versions, entries, events) == ([(outcome.version_id, "refused")], 0, ["list_version_refused"])


def test_cli_lists_quarantine_then_approve_and_reject(store: str, monkeypatch, capsys) -> None:
    monkeypatch.setenv("KYC_DATABASE_URL", store)
    monkeypatch.setenv("KYC_ACTOR", "cli:officer")
    _store(store, range(300))
    held = _store(store, range(4, 300))
    assert lists_cli.quarantine_handler(argparse.Namespace(json=False)) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["VERSION", "LIST", "ENTRIES", "ACTIVE", "ADDED", "CHANGED", "REMOVED", "LOADED"]
    assert table[1].split()[:7] == [str(held.version_id), "un_sc", "296", "300", "0", "0", "4"]

    before = _state(store)
    for bad, message in (((held.version_id, "no"), "at least 5 characters"), ((999, "a good reason"), "999 does not exist")):
        with pytest.raises(UserError, match=message):
            lists_cli.approve_handler(argparse.Namespace(version_id=bad[0], rationale=bad[1], json=False))
    assert _state(store) == before

    assert lists_cli.approve_handler(
        argparse.Namespace(version_id=held.version_id, rationale="checked the notice", json=False)
    ) == 0
    assert f"version {held.version_id} approved and activated" in capsys.readouterr().out
    with session_scope(store) as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.event_type == "list_version_approved")).one()
    assert event.actor == "cli:officer"

    again = _store(store, range(10, 300))
    assert lists_cli.reject_handler(
        argparse.Namespace(version_id=again.version_id, rationale="cut download", json=True)
    ) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "rejected"
    assert lists_cli.quarantine_handler(argparse.Namespace(json=True)) == 0
    assert json.loads(capsys.readouterr().out) == []
