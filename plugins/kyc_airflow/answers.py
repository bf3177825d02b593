"""Review answers recorded the moment Airflow accepts them, in the process that accepts them (the api-server).

A reviewer's answer is stored by Airflow's human-in-the-loop API, which then resumes the review task. Airflow 3.3
can fail that resumed try when the answer came within about a second of the task parking (see the README's known
issues); the next try would then ask again. Recording the answer here, right after Airflow's transaction commits,
makes the answer part of the case at once: the review task (any try) finds it recorded and does not ask again, and
the answer reaches the audit trail exactly once (keyed on the decision and the stage). Whatever fails here is
logged and left to the task, which records the same answer itself when it resumes.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)

_PENDING = "kyc_review_answers"
_installed = False


def _collect(session: Any, flush_context: Any) -> None:
    """After a flush: remember the human answers written to `hitl_detail` in this transaction."""
    from airflow.models.hitl import HITLDetail

    for obj in list(session.dirty) + list(session.new):
        if isinstance(obj, HITLDetail) and obj.chosen_options and obj.responded_by:
            session.info.setdefault(_PENDING, []).append(
                {"ti_id": obj.ti_id, "chosen_options": list(obj.chosen_options), "params_input": dict(obj.params_input or {}),
                 "responded_by": dict(obj.responded_by), "responded_at": obj.responded_at}
            )


def _discard(session: Any) -> None:
    session.info.pop(_PENDING, None)


def _record_committed(session: Any) -> None:
    """After the commit: write each answer to the KYC database (never raises into Airflow's request)."""
    answers = session.info.pop(_PENDING, None)
    for answer in answers or ():
        try:
            record_answer(answer)
        except Exception:  # noqa: BLE001 - the review task records the answer itself when it resumes
            log.exception("review answer for task instance %s not recorded here; the task will record it", answer["ti_id"])


def record_answer(answer: dict[str, Any]) -> bool:
    """Record one accepted answer as its stage's review; False when it is not a KYC case review answer."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as airflow_session:
        ti = airflow_session.get(TaskInstance, answer["ti_id"])
        where = (ti.dag_id, ti.run_id, ti.task_id) if ti is not None else None
    recorded = where is not None and record_answer_to(*where, answer)
    if recorded and where is not None:
        update_run_note(where[0], where[1])
    return recorded


def update_run_note(dag_id: str, run_id: str) -> None:
    """Keep the review run's note current: who answered, what is awaited, or the outcome decided."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from kyc_core.cases.review import progress_note
    from kyc_core.store.db import session_scope
    from kyc_core.store.decisions import decision_of_review_run
    from sqlalchemy import select

    from kyc_airflow.runtime import kyc_database_url

    decision_id = decision_of_review_run(run_id)
    if decision_id is None:
        return
    with session_scope(kyc_database_url()) as session:
        note = progress_note(session, decision_id)
    with create_session() as airflow_session:
        run = airflow_session.scalar(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))
        if run is not None:
            run.note = note


def record_answer_to(dag_id: str, run_id: str, task_id: str, answer: dict[str, Any]) -> bool:
    """Record an answer given to the task `dag_id`/`run_id`/`task_id`; False when it is not a KYC case review's."""
    from kyc_core.cases.review import (
        STAGE_OF_TASK,
        InvalidAnswer,
        Review,
        allowed_reviewers,
        record_review,
    )
    from kyc_core.settings import get_settings
    from kyc_core.store.db import session_scope
    from kyc_core.store.decisions import decision_of_review_run

    from kyc_airflow.runtime import kyc_database_url, reviewer_of

    if dag_id != "kyc_case_review" or task_id not in STAGE_OF_TASK:
        return False
    decision_id = decision_of_review_run(run_id)
    if decision_id is None:
        return False
    stage = STAGE_OF_TASK[task_id]
    # The rationale and the hit judgements (`hit_<id>` fields) of the form, checked by `record_review`.
    review = Review.from_answer(stage, reviewer_of(answer["responded_by"]), answer["chosen_options"], answer["params_input"],
                                answer["responded_at"])
    settings = get_settings()
    try:
        with session_scope(kyc_database_url()) as session:
            record_review(session, decision_id, review,
                          allowed=allowed_reviewers(stage, settings.reviewers, settings.senior_reviewers) or None,
                          actor=f"user:{review.reviewer_id}", run_id=run_id)
    except InvalidAnswer:
        # The task refuses it (a short rationale, a hit field the form did not offer), audits it and asks again.
        return False
    log.info("decision %s: review %d recorded as it was given", decision_id, stage)
    return True


def install() -> None:
    """Listen to Airflow's ORM sessions in this process (idempotent)."""
    global _installed
    if _installed:
        return
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    event.listen(Session, "after_flush", _collect)
    event.listen(Session, "after_commit", _record_committed)
    event.listen(Session, "after_rollback", _discard)
    _installed = True
