"""Who a perpetual-review run selects, on the exact day, and how its selection is stored once (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from kyc_core.perpetual.selection import due_date, plan_run, select_customers
from kyc_core.policy import load_policy
from kyc_core.store import flags as flag_repo
from kyc_core.store.db import session_scope
from kyc_core.store.models import AuditEvent, ReviewItem
from sqlalchemy import func, select

MOMENT = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)



def _selected(store: str, day: date) -> dict[str, list[str]]:
    with session_scope(store) as session:
        return select_customers(session, day).reasons


@pytest.mark.parametrize(
    ("decided", "level"),
    [(date(2026, 11, 30), "high"), (date(2027, 8, 31), "medium"), (date(2028, 2, 29), "low"), (date(2026, 3, 15), "high")],
)
def test_a_customer_is_selected_on_its_due_day_not_the_day_before(store, add_customer, decided, level):
    due = due_date(decided, level, load_policy("cgp"))
    customer = add_customer(level, due)
    add_customer("low", due + timedelta(days=400))  # never due in this test
    assert _selected(store, due - timedelta(days=1)) == {}
    assert _selected(store, due) == {customer: ["periodic"]}
    assert _selected(store, due + timedelta(days=30)) == {customer: ["periodic"]}


def test_each_risk_level_falls_due_at_its_own_cadence(store, add_customer):
    policy = load_policy("cgp")
    decided = date(2026, 11, 30)
    ids = {level: add_customer(level, due_date(decided, level, policy)) for level in ("high", "medium", "low")}
    assert _selected(store, date(2027, 2, 27)) == {}
    assert set(_selected(store, date(2027, 2, 28))) == {ids["high"]}
    assert set(_selected(store, date(2027, 5, 30))) == {ids["high"], ids["medium"]}
    assert set(_selected(store, date(2027, 11, 29))) == {ids["high"], ids["medium"]}
    assert set(_selected(store, date(2027, 11, 30))) == set(ids.values())


def test_flagged_customers_are_selected_with_their_reasons(store, add_customer):
    due = add_customer("high", date(2026, 12, 1))
    flagged = add_customer("low", date(2027, 12, 1))
    both = add_customer("medium", date(2026, 12, 7))
    never = add_customer(None, None)  # registered, never decided: no review date, no flag
    with session_scope(store) as s:
        for cid, reason in ((flagged, "registry_event"), (flagged, "manual"), (both, "list_change")):
            flag_repo.raise_flag(s, cid, reason=reason, actor="test", moment=MOMENT)
    with session_scope(store) as s:
        selection = select_customers(s, date(2026, 12, 7))
    assert selection.reasons == {due: ["periodic"], flagged: ["registry_event", "manual"], both: ["list_change", "periodic"]}
    assert never not in selection.reasons
    assert [selection.purpose(c) for c in (due, flagged, both)] == ["periodic", "registry_event", "list_change"]
    assert selection.counts() == {"registry_event": 1, "list_change": 1, "manual": 1, "periodic": 2}


def test_a_run_selects_once_in_batches_and_a_rerun_reuses_its_selection(store, add_customer):
    ids = sorted(add_customer("high", date(2026, 12, 1)) for _ in range(7))
    with session_scope(store) as s:
        flag_repo.raise_flag(s, ids[0], reason="manual", actor="test", moment=MOMENT)
    plan = plan_run(store, "run-a", today=date(2026, 12, 7), batch_size=3, actor="test")
    assert plan == {"batches": [0, 1, 2], "customers": 7,
                    "reasons": {"registry_event": 0, "list_change": 0, "manual": 1, "periodic": 7}}
    with session_scope(store) as s:
        rows = s.scalars(select(ReviewItem).where(ReviewItem.run_id == "run-a").order_by(ReviewItem.customer_id)).all()
        assert [(r.customer_id, r.batch_no) for r in rows] == [(c, i // 3) for i, c in enumerate(ids)]
        assert rows[0].purpose == "manual" and rows[0].flag_up_to is not None
        assert all(r.flag_up_to is None and r.purpose == "periodic" for r in rows[1:])
        # A customer flagged after the selection is not added to this run (the next run takes it).
        flag_repo.raise_flag(s, ids[3], reason="list_change", actor="test", moment=MOMENT)
    again = plan_run(store, "run-a", today=date(2026, 12, 7), batch_size=2, actor="test")
    assert again == plan
    with session_scope(store) as s:
        assert s.scalar(select(func.count()).select_from(ReviewItem)) == 7
        events = s.scalars(select(AuditEvent).where(AuditEvent.event_type == "review_run_selected")).all()
        assert len(events) == 1 and events[0].run_id == "run-a"


def test_nothing_due_plans_no_batch(store, add_customer):
    add_customer("low", date(2027, 6, 1))
    assert plan_run(store, "run-empty", today=date(2026, 12, 7), actor="test")["batches"] == []
