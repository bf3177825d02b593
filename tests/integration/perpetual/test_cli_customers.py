"""`kyc customers flag` and `kyc customers due` on the real databases: bad input writes nothing."""

from __future__ import annotations

import json
from datetime import date

import pytest
from kyc_core.cli import main
from kyc_core.store.db import session_scope
from kyc_core.store.models import AuditEvent, Customer, ReviewFlag
from sqlalchemy import func, select


@pytest.fixture
def cli(store, monkeypatch, capsys):
    monkeypatch.setenv("KYC_DATABASE_URL", store)
    monkeypatch.setenv("KYC_ACTOR", "cli:analyst1")

    def run(*argv: str) -> tuple[int, str, str]:
        try:
            code = main(list(argv))
        except SystemExit as exc:
            code = int(exc.code or 0)
        out, err = capsys.readouterr()
        return code, out, err

    return run


def _written(store: str) -> tuple[int, int]:
    with session_scope(store) as s:
        return (s.scalar(select(func.count()).select_from(ReviewFlag)), s.scalar(select(func.count()).select_from(AuditEvent)))


def test_a_manual_flag_is_stored_with_its_rationale_and_audited(cli, store, add_customer):
    customer = add_customer("low", date(2027, 12, 1))
    code, out, err = cli("customers", "flag", customer, "--reason", "  adverse press   article, 2026-12-05 ")
    assert (code, err) == (0, "") and customer in out
    with session_scope(store) as s:
        flag = s.scalars(select(ReviewFlag)).one()
        assert (flag.reason, flag.detail["rationale"], flag.actor) == ("manual", "adverse press article, 2026-12-05", "cli:analyst1")
        assert s.get(Customer, customer).flagged_for_review is True
        event = s.scalars(select(AuditEvent).where(AuditEvent.event_type == "customer_flagged")).one()
        assert event.customer_id == customer and json.loads(event.payload)["reason"] == "manual"
    code, out, _ = cli("customers", "due", "--date", "2026-12-07", "--json")
    assert code == 0 and json.loads(out)["reasons"] == {"registry_event": 0, "list_change": 0, "manual": 1, "periodic": 0}


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (("customers", "flag", "no-such-customer", "--reason", "adverse press"), 1, "customer no-such-customer is not registered"),
        (("customers", "flag", "{customer}", "--reason", "abc"), 1, "--reason: at least 5 characters"),
        (("customers", "flag", "{customer}", "--reason", "bad\x00text here"), 1, "--reason: control characters"),
        (("customers", "flag", "{customer}", "--reason", "x" * 501), 1, "--reason: at most 500 characters"),
        (("customers", "flag", "{customer}"), 2, "the following arguments are required: --reason"),
        (("customers", "due", "--date", "2026-02-30"), 1, "--date: expected YYYY-MM-DD"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(cli, store, add_customer, argv, code, message):
    customer = add_customer("low", date(2027, 12, 1))
    before = _written(store)
    got, out, err = cli(*(a.format(customer=customer) for a in argv))
    assert got == code and out == ""
    assert message in err and len(err.strip().splitlines()) == 1
    assert _written(store) == before


def test_due_counts_customers_per_reason(cli, add_customer):
    add_customer("high", date(2026, 12, 1))
    add_customer("low", date(2026, 12, 7))
    add_customer("low", date(2026, 12, 8))
    code, out, _ = cli("customers", "due", "--date", "2026-12-07")
    assert code == 0
    assert "Due for review on 2026-12-07: 2 customer(s)" in out and "periodic" in out
