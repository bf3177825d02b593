"""Human review of a proposed decision on Airflow's human-in-the-loop operator, and the trigger that opens it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.providers.standard.operators.hitl import HITLOperator
from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import Param
from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSkipException

from kyc_airflow.runtime import kyc_database_url, reviewer_of, run_id_of

#: The DAG that runs one review per case, and the run id of a case's review (one run per decision).
CASE_REVIEW_DAG = "kyc_case_review"
#: How long an answer waits for the KYC database when it is down before the task gives up (and retries).
STORE_WAIT = timedelta(minutes=15)


def case_page_link(decision_id: str) -> str:
    """The case page of the KYC workspace (hits, explanations, register facts, timeline) for a decision."""
    from airflow.sdk.configuration import conf

    base = (conf.get("api", "base_url", fallback="") or "").rstrip("/")
    return f"{base}/kyc/cases/{decision_id}"


def review_form_params(questions: Any, min_rationale: int) -> dict[str, Any]:
    """The form of a parked review: the rationale (with its length rule) and one choice per hit asked about."""
    from kyc_core.cases.options import HIT_CHOICE_LABELS, HIT_CHOICES, UNDECIDED

    params: dict[str, Any] = {
        "rationale": Param("", type="string", minLength=min_rationale, title="Rationale (required)",
                           description=f"Why; at least {min_rationale} characters, kept in the audit trail."),
    }
    for question in questions:
        params[question.key] = Param(
            UNDECIDED, type="string", enum=list(HIT_CHOICES), values_display=dict(HIT_CHOICE_LABELS), title=question.title,
            description="False positive: suppressed at later screenings while the list entry is unchanged.",
        )
    return params


class OpenCaseReviewOperator(TriggerDagRunOperator):
    """
    Start the review of a proposed decision that needs a person: one `kyc_case_review` run per decision.

    The run carries ids only (`decision_id`); its id is derived from the decision, so a re-run of this task
    starts nothing twice. Skipped when the decision needs no review.

    :param assessment: the assessing task's summary (templated; an XCom): `decision_id`, `requires_review`.
    """

    template_fields = (*TriggerDagRunOperator.template_fields, "assessment")

    def __init__(self, *, assessment: Any, **kwargs: Any) -> None:
        super().__init__(trigger_dag_id=CASE_REVIEW_DAG, skip_when_already_exists=True,
                         openlineage_inject_parent_info=False, **kwargs)
        self.assessment = assessment

    def execute(self, context: Any) -> Any:
        summary = self.assessment or {}
        if not summary.get("requires_review"):
            raise AirflowSkipException("no human review needed: the decision is final")
        decision_id = summary["decision_id"]
        from kyc_core.store.decisions import review_run_id

        self.trigger_run_id = review_run_id(decision_id)
        self.conf = {"decision_id": decision_id}
        stages = "1/2" if summary.get("approvals_required", 2) >= 2 else "1/1"
        self.note = f"{summary.get('outcome')}: customer {summary['customer_id'][:8]}, awaiting review {stages}"
        self.log.info("decision %s: review opened as %s/%s", decision_id, CASE_REVIEW_DAG, self.trigger_run_id)
        return super().execute(context)


class CaseReviewOperator(HITLOperator):
    """
    One stage of the human review of a proposed decision.

    Stage 1 alone for a `review` (the reviewer chooses the outcome); stages 1 and 2 for `edd_required` and
    `reject` (two different people confirm or overturn); stage 3, a senior reviewer, only when those two did
    not both confirm. A stage the decision does not need is skipped. Each open stage e-mails compliance with a
    link to the form, assigns only allowed people who have not answered yet, and asks for a rationale of at
    least 5 characters (the form refuses shorter ones; one that comes through the REST API is refused here,
    audited, and the reviewer is asked again). The form also has one field per open hit of the decision
    (`hit_<hit id>`: `undecided`, `false_positive` or `true_match`), built when the task parks; the judgements
    are recorded with the answer (`kyc_core.cases.review.record_review`). An answer already recorded for the
    stage (by an earlier try) is used as is; an answer that arrives while the KYC database is down waits for it.

    :param plan: the planning task's output (templated; an XCom): `decision_id`, `kind`, `open_stages`.
    :param stage: 1, 2 or 3 (senior).
    :param reviewers: user ids allowed at stages 1 and 2; default `KYC_REVIEWERS`, else anyone Airflow lets answer.
    :param senior_reviewers: user ids allowed at stage 3; default `KYC_SENIOR_REVIEWERS`, else the reviewers.
    :param kyc_conn_id: connection of the KYC database.
    :param smtp_conn_id: connection the review request e-mail goes through.
    """

    template_fields = (*HITLOperator.template_fields, "plan")

    def __init__(
        self,
        *,
        plan: Any,
        stage: int,
        reviewers: list[str] | None = None,
        senior_reviewers: list[str] | None = None,
        kyc_conn_id: str = "kyc_db",
        smtp_conn_id: str = "kyc_smtp",
        response_timeout: timedelta | None = timedelta(days=7),
        **kwargs: Any,
    ) -> None:
        from kyc_core.cases.options import DECISION_OPTIONS, FOUR_EYES_OPTIONS

        # The DAG's own params reach every operator; a review form shows only its rationale field.
        kwargs.pop("params", None)
        super().__init__(
            subject=f"KYC review, stage {stage}",
            options=[*FOUR_EYES_OPTIONS, *DECISION_OPTIONS],
            params={
                # The length rule is added to the form when the task parks (Airflow validates task params
                # when the task starts, before anyone answered, so an empty default cannot carry it here).
                "rationale": Param("", type="string", title="Rationale (required)",
                                   description="Why; at least 5 characters, kept in the audit trail."),
            },
            response_timeout=response_timeout,
            **kwargs,
        )
        self.plan = plan
        self.stage = stage
        self.reviewers = reviewers
        self.senior_reviewers = senior_reviewers
        self.kyc_conn_id = kyc_conn_id
        self.smtp_conn_id = smtp_conn_id

    def _allowed(self) -> list[str]:
        from kyc_core.cases.review import allowed_reviewers
        from kyc_core.settings import get_settings

        settings = get_settings()
        return allowed_reviewers(self.stage, self.reviewers or settings.reviewers, self.senior_reviewers or settings.senior_reviewers)

    def execute(self, context: Any) -> Any:
        from airflow.sdk.definitions.param import ParamsDict
        from kyc_core.cases.options import MIN_RATIONALE
        from kyc_core.cases.review import FourEyesViolation, plan_of, review_brief, reviews_of
        from kyc_core.store.db import session_scope

        decision_id = (self.plan or {}).get("decision_id")
        if not decision_id:
            raise AirflowSkipException("no decision to review")
        try:
            with session_scope(kyc_database_url(self.kyc_conn_id)) as session:
                plan = plan_of(session, decision_id)
                if self.stage in plan.done:
                    # Recorded as it was given (kyc_airflow.answers) or by an earlier try: not asked again.
                    done = next(r for r in reviews_of(session, decision_id) if r["stage"] == self.stage)
                    self.log.info("decision %s: review %d already recorded, not asked again", decision_id, self.stage)
                    return {"decision_id": decision_id, "stage": self.stage, "reviewer": done["reviewer_id"],
                            "choice": done["choice"]}
                if self.stage not in plan.open_stages:
                    raise AirflowSkipException(f"decision {decision_id} needs no review at stage {self.stage}")
                brief = review_brief(session, decision_id, self.stage, case_link=case_page_link(decision_id))
        except FourEyesViolation as exc:
            raise AirflowFailException(str(exc)) from None
        self.subject, self.body, self.options = brief.subject, brief.body, brief.options
        self.params = ParamsDict(review_form_params(brief.hit_questions, MIN_RATIONALE))
        allowed = self._allowed()
        if allowed:
            remaining = [user for user in allowed if user not in set(brief.reviewed_by)]
            if not remaining:
                raise AirflowFailException(f"no allowed reviewer left for stage {self.stage} (allowed: {allowed}, already: {brief.reviewed_by})")
            self.assigned_users = [{"id": user, "name": user} for user in remaining]
        self._request(context, decision_id, brief)
        self.log.info("decision %s waits for review stage %d", decision_id, self.stage)
        return super().execute(context)

    def _form_link(self, context: Any) -> str | None:
        try:
            return self.generate_link_to_ui(task_instance=context["task_instance"])
        except Exception:  # noqa: BLE001 - no base URL configured: the e-mail says where to look instead
            return None

    def _request(self, context: Any, decision_id: str, brief: Any) -> None:
        """E-mail the review request (with a link to the form) and audit it."""
        from kyc_core.store.audit import EventType, append_event
        from kyc_core.store.db import session_scope

        from kyc_airflow.notifiers.compliance import ReviewRequestNotifier

        ti = context.get("ti")
        ReviewRequestNotifier(subject=brief.subject, body=brief.body, link=self._form_link(context),
                              smtp_conn_id=self.smtp_conn_id).notify(context)
        with session_scope(kyc_database_url(self.kyc_conn_id)) as session:
            append_event(session, EventType.REVIEW_REQUESTED, actor=f"airflow:{CASE_REVIEW_DAG}", customer_id=brief.customer_id,
                         case_id=decision_id, run_id=run_id_of(context),
                         payload={"stage": self.stage, "assigned": [u["id"] for u in self.assigned_users or []],
                                  "try": getattr(ti, "try_number", None)},
                         idempotency_key=f"review_requested:{decision_id}:{self.stage}:{getattr(ti, 'try_number', 0)}")

    def validate_chosen_options(self, chosen_options: list[str]) -> None:
        """The options of this stage were set when it parked (the form and the API enforce them); check the union."""
        if not chosen_options or len(chosen_options) != 1:
            raise ValueError(f"exactly one option expected, got {chosen_options}")
        super().validate_chosen_options(chosen_options)

    def validate_params_input(self, params_input: Any) -> None:
        """Checked where the answer is recorded, against the hits this form offered (they were set when it parked).

        The resumed task is built from the DAG file, whose form has only the rationale; a field the form did not
        offer, or a value it does not allow, is refused by `record_review`, audited, and the reviewer asked again.
        """
        from collections.abc import Mapping

        if not isinstance(params_input, Mapping):
            raise ValueError(f"params_input must be an object, got {type(params_input).__name__}")

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        from kyc_core.cases.review import InvalidAnswer, Review

        answer = super().execute_complete(context, event)
        review = Review.from_answer(self.stage, reviewer_of(answer["responded_by_user"]), answer["chosen_options"],
                                    answer.get("params_input"), answer["responded_at"])
        decision_id = self.plan["decision_id"]
        try:
            self._record(context, decision_id, review)
        except InvalidAnswer as exc:
            self._refuse(context, decision_id, review, str(exc))
            # A retry parks the task again with a fresh form: the case is never stuck on a bad answer.
            raise AirflowException(f"answer refused, the reviewer is asked again: {exc}") from None
        self.log.info("decision %s: review %d recorded (%s by %s)", decision_id, self.stage, review.choice, review.reviewer_id)
        return {"decision_id": decision_id, "stage": self.stage, "reviewer": review.reviewer_id, "choice": review.choice}

    def _record(self, context: Any, decision_id: str, review: Any) -> None:
        """Record the answer, waiting (with backoff) for the KYC database if it is down."""
        from kyc_core.cases.review import FourEyesViolation, InvalidAnswer, record_review
        from kyc_core.errors import StoreUnavailable
        from kyc_core.store.db import session_scope
        from sqlalchemy.exc import DBAPIError
        from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_exponential

        for attempt in Retrying(retry=retry_if_exception_type((StoreUnavailable, DBAPIError)),
                                wait=wait_exponential(multiplier=1, max=30), stop=stop_after_delay(STORE_WAIT.total_seconds()),
                                reraise=True):
            with attempt:
                if attempt.retry_state.attempt_number > 1:
                    self.log.warning("KYC database unavailable: answer of review %d kept, try %d", self.stage,
                                     attempt.retry_state.attempt_number)
                try:
                    with session_scope(kyc_database_url(self.kyc_conn_id)) as session:
                        record_review(session, decision_id, review, allowed=self._allowed() or None,
                                      actor=f"user:{review.reviewer_id}", run_id=run_id_of(context))
                except InvalidAnswer:
                    raise
                except FourEyesViolation as exc:
                    raise AirflowFailException(str(exc)) from None

    def _refuse(self, context: Any, decision_id: str, review: Any, reason: str) -> None:
        from kyc_core.cases.review import record_refused_answer
        from kyc_core.store.db import session_scope

        with session_scope(kyc_database_url(self.kyc_conn_id)) as session:
            record_refused_answer(session, decision_id, stage=self.stage, reviewer_id=review.reviewer_id, reason=reason,
                                  run_id=run_id_of(context))
