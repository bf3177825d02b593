"""Perpetual review without a database: the review cadence with exact dates, batching and reasons."""

from __future__ import annotations

from datetime import date

import pytest
from kyc_core.errors import UserError
from kyc_core.perpetual.selection import PURPOSES, Selection, due_date, make_batches
from kyc_core.policy import load_policy


@pytest.mark.parametrize("segment", ["cgp", "fintech", "asset_mgmt"])
@pytest.mark.parametrize(
    ("decided", "level", "due"),
    [
        (date(2026, 1, 15), "high", date(2026, 4, 15)),
        (date(2026, 1, 15), "medium", date(2026, 7, 15)),
        (date(2026, 1, 15), "low", date(2027, 1, 15)),
        # A month end moves to the shorter month's last day.
        (date(2026, 11, 30), "high", date(2027, 2, 28)),
        (date(2027, 8, 31), "medium", date(2028, 2, 29)),  # into a leap year's February
        (date(2026, 5, 31), "high", date(2026, 8, 31)),
        # A leap day a year later is the last day of February.
        (date(2028, 2, 29), "low", date(2029, 2, 28)),
        (date(2028, 2, 29), "high", date(2028, 5, 29)),
        (date(2026, 12, 31), "high", date(2027, 3, 31)),
    ],
)
def test_review_is_due_at_the_policy_cadence(segment, decided, level, due):
    assert due_date(decided, level, load_policy(segment)) == due


def test_the_policies_set_quarterly_semi_annual_and_annual_reviews():
    for segment in ("cgp", "fintech", "asset_mgmt"):
        cadence = load_policy(segment).spec.review_cadence_months
        assert (cadence.high, cadence.medium, cadence.low) == (3, 6, 12)


def test_batches_keep_the_order_and_the_last_is_shorter():
    ids = [f"c{i:03d}" for i in range(450)]
    batches = make_batches(ids, 200)
    assert [len(b) for b in batches] == [200, 200, 50]
    assert [c for b in batches for c in b] == ids
    assert make_batches([], 200) == []
    assert make_batches(ids[:3], 1) == [["c000"], ["c001"], ["c002"]]


def test_a_batch_size_below_one_is_refused():
    with pytest.raises(UserError, match="at least 1"):
        make_batches(["a"], 0)


def test_the_recorded_purpose_is_the_most_specific_reason():
    selection = Selection(
        today=date(2026, 12, 7),
        reasons={"a": ["periodic"], "b": ["list_change", "periodic"], "c": ["registry_event", "manual"], "d": ["manual"]},
    )
    assert [selection.purpose(c) for c in "abcd"] == ["periodic", "list_change", "registry_event", "manual"]
    assert selection.counts() == {"registry_event": 1, "list_change": 1, "manual": 2, "periodic": 2}
    assert tuple(selection.counts()) == PURPOSES
