"""List versions on the real databases: real OFAC delta, unchanged content, refusals, atomicity."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from kyc_core.cli import lists as lists_cli
from kyc_core.lists.active import active_list_hashes, delta_parties, load_active_parties
from kyc_core.lists.versions import active_version, delta_entries, load_path
from kyc_core.store.db import session_scope
from kyc_core.store.migrate import upgrade
from kyc_core.store.models import AuditEvent, ListEntry, ListVersion
from sqlalchemy import func, select


@pytest.fixture
def store(db_url: str) -> str:
    upgrade(db_url)
    return db_url


@pytest.fixture(scope="module")
def history(shared_data: Path) -> Path:
    return shared_data / "real/ofac/history"


def _counts(url: str) -> tuple[int, int, int]:
    with session_scope(url) as session:
        return (
            session.scalar(select(func.count()).select_from(ListVersion)),
            session.scalar(select(func.count()).select_from(ListEntry)),
            session.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.event_type.like("list_version_%"))
            ),
        )


def test_real_ofac_delta_is_seven_added(store: str, history: Path) -> None:
    first = load_path(history / "2024-05-01", url=store, actor="test")
    assert (first.status, first.entry_count, first.added) == ("activated", 14966, 14966)
    second = load_path(history / "2024-05-02", url=store, actor="test")
    assert (second.status, second.added, second.changed, second.removed) == ("activated", 7, 0, 0)
    assert second.previous_version_id == first.version_id
    with session_scope(store) as session:
        version = active_version(session, "ofac_sdn")
        assert version.id == second.version_id and version.entry_count == 14973
        assert version.delta["added"] == ["48321", "48323", "48325", "48326", "48328", "48329", "48330"]
        assert session.get(ListVersion, first.version_id).status == "superseded"
        added = delta_entries(session, second.version_id)
        assert sorted(e.native_id for e in added) == version.delta["added"]
        assert all("SDGT" in e.programmes for e in added)
        parties = delta_parties(session, second.version_id)
        assert sorted(p.entry_id for p in parties) == version.delta["added"]
        youssef = next(p for p in parties if p.entry_id == "48321")
        assert youssef.names[0] == "YOUSSEF, Adnan Mahmoud" and youssef.birth_dates == ("1956-06-06",)
        events = session.scalars(
            select(AuditEvent.payload).where(AuditEvent.event_type == "list_version_activated")
        ).all()
        assert [json.loads(p)["added"] for p in events] == [14966, 7]


def test_unchanged_content_makes_no_version(store: str, history: Path) -> None:
    load_path(history / "2024-05-02", url=store, actor="test")
    before = _counts(store)
    again = load_path(history / "2024-05-02/sdn.csv", url=store, actor="test")
    assert again.status == "unchanged"
    assert _counts(store) == before


def test_truncated_file_is_refused_and_previous_stays_active(
    store: str, shared_data: Path, tmp_path: Path
) -> None:
    good = load_path(shared_data / "real/un/UN_consolidated.xml", url=store, actor="test")
    data = (shared_data / "real/un/UN_consolidated.xml").read_bytes()
    cut = tmp_path / "UN_consolidated.xml"
    cut.write_bytes(data[: int(len(data) * 0.95)])
    versions, entries, events = _counts(store)
    refused = load_path(cut, url=store, actor="test")
    assert refused.status == "refused" and refused.list_key == "un_sc"
    assert "truncated or corrupted" in refused.reason
    assert _counts(store) == (versions + 1, entries, events + 1)
    with session_scope(store) as session:
        assert active_version(session, "un_sc").id == good.version_id
        row = session.get(ListVersion, refused.version_id)
        assert row.status == "refused" and row.previous_version_id == good.version_id


def test_large_drop_is_refused_unless_forced(store: str, shared_data: Path, history: Path) -> None:
    big = load_path(history / "2024-05-02", url=store, actor="test")
    small = load_path(shared_data / "real/ofac", url=store, actor="test")
    assert small.status == "refused"
    assert small.reason.startswith("entry count dropped from 14973 to 8976")
    with session_scope(store) as session:
        assert active_version(session, "ofac_sdn").id == big.version_id
    forced = load_path(shared_data / "real/ofac", url=store, actor="test", force=True)
    assert forced.status == "activated" and forced.removed > 0


def test_failure_while_storing_leaves_nothing_half_written(store: str, history: Path, monkeypatch) -> None:
    load_path(history / "2024-05-01", url=store, actor="test")
    before = _counts(store)
    import kyc_core.lists.versions as versions

    def broken_audit(*_args, **_kwargs):
        raise RuntimeError("audit store down")

    monkeypatch.setattr(versions, "_audit", broken_audit)
    with pytest.raises(RuntimeError):
        load_path(history / "2024-05-02", url=store, actor="test")
    assert _counts(store) == before
    with session_scope(store) as session:
        assert active_version(session, "ofac_sdn").entry_count == 14966


def test_active_parties_for_the_screener(store: str, shared_data: Path) -> None:
    load_path(shared_data / "real/eu/eu_sample.xml", url=store, actor="test")
    load_path(shared_data / "real/un/UN_consolidated.xml", url=store, actor="test")
    with session_scope(store) as session:
        parties = load_active_parties(session)
        hashes = active_list_hashes(session)
    assert len(parties) == 1007 and set(hashes) == {"eu_fsf", "un_sc"}
    saddam = next(p for p in parties if p.list_key == "eu_fsf" and p.entry_id == "13")
    assert saddam.names[0] == "Saddam Hussein Al-Tikriti"
    assert saddam.birth_dates == ("1937-04-28",) and saddam.countries == ("IQ",)
    assert len(saddam.content_hash) == 64


def test_cli_load_and_status(store: str, shared_data: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("KYC_DATABASE_URL", store)
    code = lists_cli.load_handler(
        argparse.Namespace(
            paths=[str(shared_data / "real/un/UN_consolidated.xml"), str(shared_data / "real/ofac")],
            force=False,
            json=False,
        )
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "un_sc: activated version" in out and "1003 entries" in out
    assert "ofac_sdn: activated version" in out and "8976 entries" in out
    empty = tmp_path / "sdn.csv"
    empty.write_bytes(b"")
    assert lists_cli.load_handler(argparse.Namespace(paths=[str(empty)], force=False, json=True)) == 1
    refusal = json.loads(capsys.readouterr().out)
    assert refusal["status"] == "refused" and "empty" in refusal["reason"]
    assert lists_cli.status_handler(argparse.Namespace(json=True)) == 0
    status = {row["list"]: row for row in json.loads(capsys.readouterr().out)}
    assert status["un_sc"]["active"]["entries"] == 1003
    assert status["un_sc"]["active"]["published_at"].startswith("2026-02-27")
    assert status["ofac_sdn"]["active"]["entries"] == 8976
    assert "empty" in status["ofac_sdn"]["last_refusal"]["reason"]
    assert lists_cli.status_handler(argparse.Namespace(json=False)) == 0
    table = capsys.readouterr().out
    assert "un_sc" in table and "1003" in table and "last load refused" in table
