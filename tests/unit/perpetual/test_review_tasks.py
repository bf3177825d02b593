"""The Airflow task bodies of the perpetual review: a batch that could not review everyone, retries and summary."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

BATCH = {"customers": 3, "outcomes": {"approve": 2}, "decisions_written": 0, "unchanged": 2, "source_unavailable": 0,
         "flags_cleared": 0, "reviews": [], "failed": ["c-2"]}


@pytest.fixture
def tasks(monkeypatch):
    import kyc_core.perpetual.review as core
    from kyc_airflow.tasks import onboarding, perpetual

    monkeypatch.setattr(core, "review_batch", lambda ctx, n: {**BATCH, "batch": n})
    monkeypatch.setattr(onboarding, "assessment_context", lambda context: None)
    return perpetual


def test_a_batch_with_a_customer_left_retries_until_its_last_try(tasks):
    from airflow.sdk.exceptions import AirflowException

    context = {"ti": SimpleNamespace(try_number=1, max_tries=3)}
    with pytest.raises(AirflowException, match="1 customer"):
        tasks.review_batch(4, context)
    assert context["batch_label"] == "batch 4"
    last = {"ti": SimpleNamespace(try_number=4, max_tries=3)}
    assert tasks.review_batch(4, last)["failed"] == ["c-2"]


def test_reviews_to_open_skips_batches_that_returned_nothing(tasks):
    entry = {"decision_id": "d-1", "customer_id": "c-1", "requires_review": True}
    assert tasks.reviews_to_open([None, {"reviews": [entry]}, {"reviews": []}]) == [entry]
    assert tasks.reviews_to_open(None) == []


def test_the_summary_fails_the_run_when_a_selected_customer_was_not_reviewed(tasks, monkeypatch):
    import kyc_core.perpetual.review as core
    from airflow.sdk.exceptions import AirflowFailException

    monkeypatch.setattr(tasks, "kyc_database_url", lambda: "sqlite://")
    summary = {"customers": 3, "reviewed": 2, "reasons": {}, "outcomes": {}, "decisions_written": 0, "unchanged": 2,
               "source_unavailable": 0, "register_calls": {}, "cost_eur": 0.0, "saved_eur": 0.0}
    monkeypatch.setattr(core, "run_summary", lambda url, run_id, batches: summary)
    with pytest.raises(AirflowFailException, match="1 selected customer"):
        tasks.summarize_review([BATCH], {"run_id": "r"})
    summary["reviewed"] = 3
    assert tasks.summarize_review([BATCH], {"run_id": "r"}) is summary


def test_the_review_day_comes_from_the_param_or_the_run(tasks):
    from datetime import UTC, date, datetime

    from airflow.sdk.exceptions import AirflowFailException

    assert tasks.review_day({}, "2028-02-29") == date(2028, 2, 29)
    assert tasks.review_day({"logical_date": datetime(2027, 2, 28, 23, 30, tzinfo=UTC)}) == date(2027, 2, 28)
    run = SimpleNamespace(run_after=datetime(2026, 12, 7, 5, 0, tzinfo=UTC))
    assert tasks.review_day({"logical_date": None, "dag_run": run}) == date(2026, 12, 7)
    with pytest.raises(AirflowFailException, match="review_date"):
        tasks.review_day({}, "2027-02-29")
