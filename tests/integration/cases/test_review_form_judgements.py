"""The review operator's form: one choice per hit built when it parks, answers recorded with their judgements."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from airflow.sdk.definitions.param import ParamsDict
from airflow.sdk.exceptions import AirflowException
from kyc_airflow.operators.review import CaseReviewOperator, review_form_params
from kyc_core.cases.options import CONFIRM, HIT_CHOICES, MIN_RATIONALE, hit_param
from kyc_core.cases.review import review_brief
from kyc_core.store.db import session_scope
from kyc_core.store.models import AuditEvent, MatchJudgement
from sqlalchemy import select

OFFICER = "officer:aaaaaaaaaaaaaaaa"


@pytest.fixture
def operator(case, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_KYC_DB", json.dumps({"conn_type": "kyc_database", "extra": {"url": case["url"]}}))
    monkeypatch.setenv("KYC_REVIEWERS", "")
    # Built as the resumed task is: from the DAG file, whose form has the rationale only.
    return CaseReviewOperator(task_id="review_1", plan={"decision_id": case["decision_id"]}, stage=1)


def _event(params_input: dict) -> dict:
    return {"chosen_options": [CONFIRM], "params_input": params_input, "responded_at": datetime.now(UTC),
            "responded_by_user": {"id": "analyst1", "name": "Analyst One"}}


def test_the_parked_form_has_one_choice_per_hit(case):
    with session_scope(case["url"]) as s:
        brief = review_brief(s, case["decision_id"], 1)
    form = ParamsDict(review_form_params(brief.hit_questions, MIN_RATIONALE))
    schema = {key: form.get_param(key).serialize() for key in form}
    assert list(schema) == ["rationale", *(hit_param(case["hits"][k]) for k in sorted(case["hits"], key=lambda k: -case["scores"][k]))]
    assert schema["rationale"]["schema"]["minLength"] == MIN_RATIONALE
    officer = schema[hit_param(case["hits"][(OFFICER, "101")])]
    assert officer["value"] == "undecided" and officer["schema"]["enum"] == HIT_CHOICES
    assert officer["schema"]["title"] == "officer: ofac_sdn:101 score 0.91 (match)"


def test_an_answer_with_hit_choices_is_recorded_with_its_judgements(case, operator):
    key = hit_param(case["hits"][(OFFICER, "202")])
    result = operator.execute_complete({"run_id": "case__x"}, _event({"rationale": "born twenty years apart", key: "false_positive"}))
    assert result["choice"] == CONFIRM
    with session_scope(case["url"]) as s:
        (row,) = s.scalars(select(MatchJudgement)).all()
        assert (row.native_id, row.verdict, row.analyst) == ("202", "false_positive", "analyst1")
        kinds = [e.event_type for e in s.scalars(select(AuditEvent).where(AuditEvent.case_id == case["decision_id"]))]
    assert kinds == ["human_review", "match_judged"]


def test_an_answer_with_the_rationale_only_still_works(case, operator):
    operator.execute_complete({"run_id": "case__x"}, _event({"rationale": "listing confirmed"}))
    with session_scope(case["url"]) as s:
        assert s.scalars(select(MatchJudgement)).all() == []
        assert [e.event_type for e in s.scalars(select(AuditEvent).where(AuditEvent.case_id == case["decision_id"]))] == ["human_review"]


def test_an_answer_judging_a_hit_the_form_did_not_offer_is_refused_and_asked_again(case, operator):
    with pytest.raises(AirflowException, match="asked again.*no field 'hit_0'"):
        operator.execute_complete({"run_id": "case__x"}, _event({"rationale": "listing confirmed", "hit_0": "false_positive"}))
    with session_scope(case["url"]) as s:
        assert s.scalars(select(MatchJudgement)).all() == []
        events = s.scalars(select(AuditEvent).where(AuditEvent.case_id == case["decision_id"])).all()
    assert [e.event_type for e in events] == ["review_answer_refused"]


def _given(params_input: dict) -> dict:
    """An answer as the api-server's session hands it over once Airflow committed it."""
    return {"ti_id": "x", "chosen_options": [CONFIRM], "params_input": params_input,
            "responded_by": {"id": "analyst2", "name": "Analyst Two"}, "responded_at": datetime.now(UTC)}


def test_an_answer_recorded_as_it_is_given_writes_its_judgements_once(case, operator):
    from kyc_airflow.answers import record_answer_to

    key = hit_param(case["hits"][(OFFICER, "101")])
    run_id = f"case__{case['decision_id']}"
    assert not record_answer_to("kyc_onboarding", run_id, "review_1", _given({"rationale": "not the listed person"}))
    assert not record_answer_to("kyc_case_review", run_id, "review_1", _given({"rationale": "ok", key: "false_positive"}))
    assert record_answer_to("kyc_case_review", run_id, "review_1",
                            _given({"rationale": "not the listed person", key: "false_positive"}))
    # The task resumes with the same answer: recorded already, nothing written twice.
    operator.execute_complete({"run_id": run_id}, _event({"rationale": "not the listed person", key: "false_positive"}))
    with session_scope(case["url"]) as s:
        (row,) = s.scalars(select(MatchJudgement)).all()
        kinds = [e.event_type for e in s.scalars(select(AuditEvent).where(AuditEvent.case_id == case["decision_id"]))]
    assert (row.native_id, row.subject_key, row.analyst) == ("101", OFFICER, "analyst2")
    assert kinds == ["human_review", "match_judged"]
