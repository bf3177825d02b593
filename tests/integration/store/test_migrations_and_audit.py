"""The KYC schema and its audit trail on both SQLite and the real PostgreSQL."""

from __future__ import annotations

import threading

import pytest
from kyc_core.store import migrate
from kyc_core.store.audit import EventType, append_event, verify_chain
from kyc_core.store.db import get_engine, session_scope
from kyc_core.store.models import AuditEvent
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

TABLES = {
    "customer",
    "registry_snapshot",
    "list_version",
    "list_entry",
    "screening_hit",
    "match_judgement",
    "decision",
    "audit_event",
    "source_call",
}


def _append(url: str, n: int, actor: str = "test") -> None:
    for i in range(n):
        with session_scope(url) as session:
            append_event(session, EventType.CASE_CREATED, actor=actor, payload={"i": i}, case_id=f"case-{i}")


def test_upgrade_creates_schema_and_records_event(db_url):
    before, after = migrate.upgrade(db_url)
    assert (before, after) == (None, migrate.head_revision())
    assert TABLES <= set(inspect(get_engine(db_url)).get_table_names())
    with session_scope(db_url) as session:
        events = session.scalars(select(AuditEvent)).all()
        assert [e.event_type for e in events] == ["schema_upgraded"]
        assert verify_chain(session).ok
    # A second upgrade changes nothing and records nothing.
    assert migrate.upgrade(db_url) == (after, after)
    with session_scope(db_url) as session:
        assert len(session.scalars(select(AuditEvent)).all()) == 1


def test_downgrade_to_base_and_upgrade_again(db_url):
    migrate.upgrade(db_url)
    migrate.downgrade(db_url, "base")
    assert not (TABLES & set(inspect(get_engine(db_url)).get_table_names()))
    migrate.upgrade(db_url)
    assert TABLES <= set(inspect(get_engine(db_url)).get_table_names())
    with session_scope(db_url) as session:
        assert verify_chain(session).events == 1


def test_partial_downgrade_is_recorded(db_url):
    migrate.upgrade(db_url)
    migrate.downgrade(db_url, "0001")
    with session_scope(db_url) as session:
        kinds = [e.event_type for e in session.scalars(select(AuditEvent).order_by(AuditEvent.seq))]
    assert kinds == ["schema_upgraded", "schema_downgraded"]


@pytest.mark.parametrize("statement", ["UPDATE audit_event SET actor = 'mallory'", "DELETE FROM audit_event"])
def test_database_refuses_edits(db_url, statement):
    migrate.upgrade(db_url)
    _append(db_url, 2)
    with pytest.raises(DBAPIError, match="append-only"):
        with get_engine(db_url).begin() as conn:
            conn.execute(text(statement))
    with session_scope(db_url) as session:
        result = verify_chain(session)
    assert result.ok and result.events == 3


def test_postgres_refuses_truncate(pg_url):
    migrate.upgrade(pg_url)
    with pytest.raises(DBAPIError, match="append-only"):
        with get_engine(pg_url).begin() as conn:
            conn.execute(text("TRUNCATE audit_event"))


def _disable_triggers(conn) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("ALTER TABLE audit_event DISABLE TRIGGER USER"))
    else:
        conn.execute(text("DROP TRIGGER audit_event_no_update"))
        conn.execute(text("DROP TRIGGER audit_event_no_delete"))


def test_verify_detects_edited_payload(db_url):
    migrate.upgrade(db_url)
    _append(db_url, 4)
    with get_engine(db_url).begin() as conn:
        _disable_triggers(conn)
        conn.execute(text("UPDATE audit_event SET payload = :p WHERE seq = 3"), {"p": '{"i":99}'})
    with session_scope(db_url) as session:
        result = verify_chain(session)
    assert not result.ok
    assert result.first_bad_seq == 3
    assert "#3" in result.problem and "altered" in result.problem


def test_verify_detects_deleted_row(db_url):
    migrate.upgrade(db_url)
    _append(db_url, 4)
    with get_engine(db_url).begin() as conn:
        _disable_triggers(conn)
        conn.execute(text("DELETE FROM audit_event WHERE seq = 2"))
    with session_scope(db_url) as session:
        result = verify_chain(session)
    assert not result.ok
    assert result.first_bad_seq == 2
    assert "missing" in result.problem


def test_verify_detects_truncated_tail_with_expected_head(db_url):
    migrate.upgrade(db_url)
    _append(db_url, 3)
    with session_scope(db_url) as session:
        head = verify_chain(session).head_hash
    with get_engine(db_url).begin() as conn:
        _disable_triggers(conn)
        conn.execute(text("DELETE FROM audit_event WHERE seq = 4"))
    with session_scope(db_url) as session:
        assert verify_chain(session).ok  # a removed tail is invisible to the chain alone...
        result = verify_chain(session, expected_head=head)
    assert not result.ok  # ...but not to a head recorded elsewhere
    assert "removed at the end" in result.problem


def test_idempotency_key_appends_once(db_url):
    migrate.upgrade(db_url)
    for _ in range(3):
        with session_scope(db_url) as session:
            append_event(session, EventType.FINAL_DECISION, actor="t", payload={"x": 1}, idempotency_key="decision:abc")
    with session_scope(db_url) as session:
        rows = session.scalars(select(AuditEvent).where(AuditEvent.idempotency_key == "decision:abc")).all()
    assert len(rows) == 1


def test_concurrent_appenders_keep_one_linear_chain(db_url):
    migrate.upgrade(db_url)
    errors: list[BaseException] = []

    def worker(name: str) -> None:
        try:
            _append(db_url, 15, actor=name)
        except BaseException as exc:  # noqa: BLE001 - surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    with session_scope(db_url) as session:
        result = verify_chain(session)
    assert result.ok and result.events == 1 + 4 * 15


def test_rolled_back_transaction_leaves_no_event(db_url):
    migrate.upgrade(db_url)
    with pytest.raises(IntegrityError):
        with session_scope(db_url) as session:
            append_event(session, EventType.CASE_CREATED, actor="t", payload={})
            session.execute(text("INSERT INTO audit_event (seq) VALUES (NULL)"))
    with session_scope(db_url) as session:
        assert verify_chain(session).events == 1


def test_app_role_may_insert_but_not_edit_audit(pg_url):
    import uuid

    from kyc_core.store.roles import grant_app_role

    migrate.upgrade(pg_url)
    role = f"kyc_app_{uuid.uuid4().hex[:8]}"
    engine = get_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(text(f"CREATE ROLE {role} NOLOGIN"))
    try:
        grant_app_role(pg_url, role)
        with engine.begin() as conn:
            conn.execute(text(f"SET LOCAL ROLE {role}"))
            assert conn.execute(text("SELECT count(*) FROM audit_event")).scalar_one() == 1
        refused = {
            "DELETE FROM audit_event": "permission denied",
            "UPDATE audit_event SET actor = 'x'": "permission denied",
            "ALTER TABLE audit_event DISABLE TRIGGER USER": "must be owner",
        }
        for statement, message in refused.items():
            with pytest.raises(DBAPIError, match=message):
                with engine.begin() as conn:
                    conn.execute(text(f"SET LOCAL ROLE {role}"))
                    conn.execute(text(statement))
        with session_scope(pg_url) as session:
            session.execute(text(f"SET LOCAL ROLE {role}"))
            append_event(session, EventType.CASE_CREATED, actor="app", payload={})
        with session_scope(pg_url) as session:
            assert verify_chain(session).events == 2
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"REASSIGN OWNED BY {role} TO CURRENT_USER"))
            conn.execute(text(f"DROP OWNED BY {role}"))
            conn.execute(text(f"DROP ROLE {role}"))
