"""Analyst judgements from the review form and from `kyc judge`: rows, events, the two-analyst overturn, bad input."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from kyc_core.cases.judging import (
    OVERTURN_PENDING,
    OVERTURNED,
    RECORDED,
    UNCHANGED,
    JudgementRefused,
    judge_entry,
)
from kyc_core.cases.options import CONFIRM, hit_param
from kyc_core.cases.review import InvalidAnswer, Review, plan_of, record_review, review_brief
from kyc_core.cli import main
from kyc_core.screening.judgements import apply_judgements
from kyc_core.screening.model import Hit, Judgement
from kyc_core.store import judgements as judgement_repo
from kyc_core.store.audit import verify_chain
from kyc_core.store.db import session_scope
from kyc_core.store.models import AuditEvent, MatchJudgement
from sqlalchemy import func, select

#: The subjects of the `case` fixture (tests/integration/cases/conftest.py).
OFFICER, OWNER = "officer:aaaaaaaaaaaaaaaa", "owner:bbbbbbbbbbbbbbbb"


def _review(stage: int, who: str, judgements: dict[str, str], rationale: str = "checked birth date and nationality") -> Review:
    return Review(stage=stage, reviewer_id=who, reviewer_name=who, choice=CONFIRM, rationale=rationale,
                  responded_at=datetime.now(UTC), judgements=judgements)


def _written(url: str) -> tuple[int, int]:
    with session_scope(url) as s:
        return s.scalar(select(func.count()).select_from(MatchJudgement)), s.scalar(select(func.count()).select_from(AuditEvent))


def _judgements(url: str, customer_id: str) -> list[MatchJudgement]:
    with session_scope(url) as s:
        return list(s.scalars(select(MatchJudgement).where(MatchJudgement.customer_id == customer_id).order_by(MatchJudgement.id)))


def _suppressed(url: str, customer_id: str, subject: str, native_id: str, content_hash: str) -> bool:
    with session_scope(url) as s:
        judgements = [Judgement(*j) for j in judgement_repo.for_customers(s, [customer_id])]
    hit = Hit(subject_key=subject, list_key="ofac_sdn", entry_id=native_id, query_name="X", matched_name="X", score=0.9, verdict="match",
              explanation={}, content_hash=content_hash)
    return bool(apply_judgements([hit], judgements).suppressed)


def test_the_form_asks_about_each_hit_by_list_entry_and_score(case):
    with session_scope(case["url"]) as s:
        brief = review_brief(s, case["decision_id"], 1)
    assert [(q.key, q.title) for q in brief.hit_questions] == [
        (hit_param(case["hits"][(OFFICER, "101")]), "officer: ofac_sdn:101 score 0.91 (match)"),
        (hit_param(case["hits"][(OWNER, "101")]), "owner: ofac_sdn:101 score 0.72 (match)"),
        (hit_param(case["hits"][(OFFICER, "202")]), "officer: ofac_sdn:202 score 0.64 (review)"),
    ]
    assert "False positive" in brief.body


def test_a_review_answer_writes_its_judgements_with_events(case):
    url, did, cid = case["url"], case["decision_id"], case["customer_id"]
    fp, undecided = hit_param(case["hits"][(OFFICER, "101")]), hit_param(case["hits"][(OFFICER, "202")])
    with session_scope(url) as s:
        record_review(s, did, _review(1, "analyst1", {fp: "false_positive", undecided: "undecided"}), allowed=None,
                      actor="t", run_id="case__x")
    (row,) = _judgements(url, cid)
    assert (row.subject_key, row.native_id, row.entry_hash, row.verdict, row.analyst) == (OFFICER, "101", "h101", "false_positive", "analyst1")
    assert row.rationale == "checked birth date and nationality"
    with session_scope(url) as s:
        events = s.scalars(select(AuditEvent).where(AuditEvent.case_id == did).order_by(AuditEvent.seq)).all()
        assert [e.event_type for e in events] == ["human_review", "match_judged"]
        assert json.loads(events[0].payload)["judgements"] == {fp: "false_positive"}
        judged = json.loads(events[1].payload)
        assert (events[1].actor, judged["judgement_id"], judged["source"]) == ("user:analyst1", row.id, "review_stage_1")
        assert "rationale" not in judged
        assert verify_chain(s).ok
    # The next screening suppresses the pair while the entry is unchanged; a changed entry opens it again.
    assert _suppressed(url, cid, OFFICER, "101", "h101")
    assert not _suppressed(url, cid, OFFICER, "101", "h101-amended")
    assert not _suppressed(url, cid, OWNER, "101", "h101")
    # The second reviewer sees the first one's judgements; a later stage's judgement of the same hit replaces it.
    with session_scope(url) as s:
        assert "hits judged: `ofac_sdn:101` false_positive" in review_brief(s, did, 2).body
        record_review(s, did, _review(2, "analyst2", {fp: "true_match"}), allowed=None, actor="t", run_id="case__x")
    assert [j.verdict for j in _judgements(url, cid)] == ["false_positive", "true_match"]
    assert not _suppressed(url, cid, OFFICER, "101", "h101")


@pytest.mark.parametrize("fields", [{"hit_999999": "false_positive"}, {"comment": "x"}, {"HIT": "false_positive"}, "bad-value"])
def test_a_field_the_form_did_not_offer_refuses_the_whole_answer(case, fields):
    url, did = case["url"], case["decision_id"]
    if fields == "bad-value":
        fields = {hit_param(case["hits"][(OFFICER, "101")]): "maybe"}
    before = _written(url)
    with session_scope(url) as s, pytest.raises(InvalidAnswer, match="no field|must be one of"):
        record_review(s, did, _review(1, "analyst1", fields), allowed=None, actor="t", run_id="case__x")
    assert _written(url) == before
    with session_scope(url) as s:
        assert plan_of(s, did).open_stages == (1, 2)


def test_an_answer_without_hit_fields_is_recorded_as_before(case):
    """The REST answer with a rationale only (as `make demo` gives it): every hit stays undecided."""
    review = Review.from_answer(1, {"id": "analyst1", "name": "A"}, [CONFIRM], {"rationale": "listing confirmed"},
                                datetime.now(UTC).isoformat())
    with session_scope(case["url"]) as s:
        payload = record_review(s, case["decision_id"], review, allowed=None, actor="t", run_id="case__x")
    assert "judgements" not in payload and _judgements(case["url"], case["customer_id"]) == []


def test_a_true_match_overturn_in_the_form_needs_the_second_reviewer(case):
    url, did, cid = case["url"], case["decision_id"], case["customer_id"]
    key = hit_param(case["hits"][(OFFICER, "101")])
    with session_scope(url) as s:
        judge_entry(s, cid, "ofac_sdn:101", "true_match", rationale="same person, same birth date", analyst="analyst3",
                    subjects=[OFFICER])
        record_review(s, did, _review(1, "analyst1", {key: "false_positive"}), allowed=None, actor="t", run_id="case__x")
    # Requested, not in force: the hit still counts as a match.
    assert [j.verdict for j in _judgements(url, cid)] == ["true_match"]
    with session_scope(url) as s:
        assert s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.event_type == "match_overturn_requested")) == 1
        record_review(s, did, _review(2, "analyst2", {key: "false_positive"}), allowed=None, actor="t", run_id="case__x")
    rows = _judgements(url, cid)
    assert [(j.verdict, j.analyst) for j in rows] == [("true_match", "analyst3"), ("false_positive", "analyst1+analyst2")]
    assert _suppressed(url, cid, OFFICER, "101", "h101")


def test_the_same_analyst_cannot_complete_their_own_overturn(case):
    url, cid = case["url"], case["customer_id"]
    args = {"rationale": "different person", "subjects": [OFFICER]}
    with session_scope(url) as s:
        assert judge_entry(s, cid, "ofac_sdn:101", "true_match", analyst="a1", **args)[0].status == RECORDED
        assert judge_entry(s, cid, "ofac_sdn:101", "true_match", analyst="a2", **args)[0].status == UNCHANGED
        assert judge_entry(s, cid, "ofac_sdn:101", "false_positive", analyst="a2", **args)[0].status == OVERTURN_PENDING
    before = _written(url)
    with session_scope(url) as s, pytest.raises(JudgementRefused, match="a second, different analyst"):
        judge_entry(s, cid, "ofac_sdn:101", "false_positive", analyst="a2", **args)
    assert _written(url) == before
    with session_scope(url) as s:
        assert judge_entry(s, cid, "ofac_sdn:101", "false_positive", analyst="a1", **args)[0].status == OVERTURNED
    assert _suppressed(url, cid, OFFICER, "101", "h101")


# --- the command line ----------------------------------------------------------------------------------


@pytest.fixture
def kyc(case, monkeypatch, capsys):
    monkeypatch.setenv("KYC_DATABASE_URL", case["url"])
    monkeypatch.setenv("KYC_ACTOR", "cli:tester")

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_kyc_judge_records_and_lists(case, kyc, new_list_version):
    cid = case["customer_id"]
    code, out, _ = kyc("judge", cid, "ofac_sdn:202", "false_positive", "--rationale", "born 20 years apart")
    assert code == 0 and "recorded" in out
    (row,) = _judgements(case["url"], cid)
    assert (row.subject_key, row.entry_hash, row.analyst) == (OFFICER, "h202", "cli:tester")
    code, out, _ = kyc("judge", cid, "ofac_sdn:202", "false_positive", "--rationale", "born 20 years apart", "--actor", "analyst2")
    assert code == 0 and "already in force" in out and len(_judgements(case["url"], cid)) == 1
    code, out, _ = kyc("judgements", cid, "--json")
    assert code == 0
    assert [(r["native_id"], r["verdict"], r["state"]) for r in json.loads(out)] == [("202", "false_positive", "in_force")]
    # A new version of the list that amends the entry: the judgement no longer holds.
    with session_scope(case["url"]) as s:
        new_list_version(s, {"101": "h101", "202": "h202-amended"})
    code, out, _ = kyc("judgements", cid)
    assert code == 0 and "entry_changed" in out
    # Judged again, it is judged on the entry as it is published now.
    assert kyc("judge", cid, "ofac_sdn:202", "false_positive", "--rationale", "still another person")[0] == 0
    assert _judgements(case["url"], cid)[-1].entry_hash == "h202-amended"


def test_kyc_judge_two_actor_overturn(case, kyc):
    cid = case["customer_id"]
    base = ("judge", cid, "ofac_sdn:202")
    assert kyc(*base, "true_match", "--rationale", "same person", "--actor", "analyst1")[0] == 0
    code, out, _ = kyc(*base, "false_positive", "--rationale", "passport differs", "--actor", "analyst2")
    assert code == 0 and "second, different analyst" in out
    before = _written(case["url"])
    code, out, err = kyc(*base, "false_positive", "--rationale", "passport differs", "--actor", "analyst2")
    assert (code, out) == (1, "") and len(err.strip().splitlines()) == 1 and "a second, different analyst must confirm" in err
    assert _written(case["url"]) == before
    code, out, _ = kyc(*base, "false_positive", "--rationale", "passport differs, agreed", "--actor", "analyst3")
    assert code == 0 and "overturned" in out
    assert [(j.verdict, j.analyst) for j in _judgements(case["url"], cid)] == [
        ("true_match", "analyst1"), ("false_positive", "analyst2+analyst3")]


def test_kyc_judge_subjects(case, kyc):
    cid = case["customer_id"]
    code, _, err = kyc("judge", cid, "ofac_sdn:101", "false_positive", "--rationale", "another person")
    assert code == 1 and "2 subjects" in err and OFFICER in err and "--subject" in err
    assert kyc("judge", cid, "ofac_sdn:101", "false_positive", "--rationale", "another person", "--subject", OWNER)[0] == 0
    assert [j.subject_key for j in _judgements(case["url"], cid)] == [OWNER]
    assert kyc("judge", cid, "ofac_sdn:101", "false_positive", "--rationale", "another person", "--subject", "all")[0] == 0
    assert sorted(j.subject_key for j in _judgements(case["url"], cid)) == sorted([OWNER, OFFICER])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("judge", "{unknown}", "ofac_sdn:101", "false_positive", "--rationale", "another person"), "does not exist"),
        (("judge", "{cid}", "ofac_sdn:999", "false_positive", "--rationale", "another person"), "has no screening hit on ofac_sdn:999"),
        (("judge", "{cid}", "un_sc:101", "false_positive", "--rationale", "another person"), "has no screening hit on un_sc:101"),
        (("judge", "{cid}", "ofac_sdn-101", "false_positive", "--rationale", "another person"), "expected LIST:ENTRY_ID"),
        (("judge", "{cid}", "ofac_sdn:202", "false_positive", "--rationale", "no"), "at least 5 characters"),
        (("judge", "{cid}", "ofac_sdn:202", "false_positive", "--rationale", "another person", "--subject", "owner:x"),
         "hit no subject owner:x"),
        (("judgements", "{unknown}"), "does not exist"),
    ],
)
def test_kyc_judge_bad_input_writes_nothing(case, kyc, argv, message):
    before = _written(case["url"])
    argv = tuple(a.format(cid=case["customer_id"], unknown=str(uuid.uuid4())) for a in argv)
    code, out, err = kyc(*argv)
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and err.startswith("kyc: error: ") and message in err
    assert _written(case["url"]) == before


def test_kyc_judge_refuses_an_unknown_verdict_and_an_entry_no_longer_listed(case, kyc, new_list_version):
    with pytest.raises(SystemExit) as exit_info:
        kyc("judge", case["customer_id"], "ofac_sdn:202", "maybe", "--rationale", "another person")
    assert exit_info.value.code == 2
    with session_scope(case["url"]) as s:
        new_list_version(s, {"101": "h101"})
    before = _written(case["url"])
    code, _, err = kyc("judge", case["customer_id"], "ofac_sdn:202", "false_positive", "--rationale", "another person")
    assert code == 1 and "not on the active ofac_sdn list" in err
    assert _written(case["url"]) == before
