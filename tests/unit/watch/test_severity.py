"""Which register events call for an immediate re-review."""

from __future__ import annotations

import pytest
from kyc_core.watch.events import EventKind, is_severe


@pytest.mark.parametrize("kind", [EventKind.LIQUIDATION, EventKind.STRIKING_OFF])
def test_liquidation_and_striking_off_are_always_severe(kind):
    assert is_severe(kind, {})


@pytest.mark.parametrize("kind", [EventKind.SAFEGUARD, EventKind.RECEIVERSHIP, EventKind.COLLECTIVE_OTHER,
                                  EventKind.SALE, EventKind.CEASED, EventKind.OFFICE_ABROAD, EventKind.NAF_SENSITIVE,
                                  EventKind.OFFICER_OUT, EventKind.OWNER_OUT])
def test_other_events_wait_for_the_daily_review(kind):
    assert not is_severe(kind, {"listed": [{"list": "ofac_sdn"}]})


@pytest.mark.parametrize("kind", [EventKind.OFFICER_IN, EventKind.OWNER_IN])
def test_a_new_person_is_severe_when_listed_or_not_screened(kind):
    assert is_severe(kind, {"screened": True, "listed": [{"list": "un_sc", "entry_id": "QDi.1"}]})
    assert not is_severe(kind, {"screened": True, "listed": [], "review_hits": 2})
    # No active list to screen against: fail closed.
    assert is_severe(kind, {"screened": False})
