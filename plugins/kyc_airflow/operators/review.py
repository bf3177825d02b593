"""Four-eyes human review of a proposed decision, on Airflow's human-in-the-loop operator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.providers.standard.operators.hitl import HITLOperator
from airflow.sdk import Param
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from kyc_airflow.runtime import kyc_database_url, run_id_of


class FourEyesReviewOperator(HITLOperator):
    """
    One of the two reviews an `edd_required` or `reject` decision needs before it is final.

    The second stage is assigned only to allowed reviewers who did not answer the first, so Airflow
    refuses the same person twice; the answer is checked again in code before it is recorded.

    :param assessment: the assessing task's summary (templated; an XCom): `decision_id`, `requires_review`.
    :param stage: 1 or 2.
    :param reviewers: user ids allowed to review; default: `KYC_REVIEWERS` (comma-separated), else anyone
        with the right to answer in Airflow.
    :param kyc_conn_id: connection of the KYC database.
    """

    template_fields = (*HITLOperator.template_fields, "assessment")

    def __init__(
        self,
        *,
        assessment: Any,
        stage: int,
        reviewers: list[str] | None = None,
        kyc_conn_id: str = "kyc_db",
        response_timeout: timedelta | None = timedelta(days=7),
        **kwargs: Any,
    ) -> None:
        from kyc_core.cases.options import REVIEW_OPTIONS

        # The DAG's own params reach every operator; a review form shows only its rationale field.
        kwargs.pop("params", None)
        kwargs.pop("retries", None)
        super().__init__(
            subject=f"KYC four-eyes review {stage}/2",
            options=REVIEW_OPTIONS,
            params={
                # No minLength here: Airflow validates task params when the task starts, before anyone answered.
                # The rule (a rationale of at least 5 characters) is enforced when the answer is recorded.
                "rationale": Param(
                    "", type="string", title="Rationale (required)",
                    description="Why you confirm or overturn; at least 5 characters, kept in the audit trail.",
                )
            },
            response_timeout=response_timeout,
            retries=0,
            **kwargs,
        )
        self.assessment = assessment
        self.stage = stage
        self.reviewers = reviewers
        self.kyc_conn_id = kyc_conn_id

    def _allowed(self) -> list[str]:
        from kyc_core.settings import get_settings

        return list(self.reviewers or get_settings().reviewers)

    def execute(self, context: Any) -> Any:
        from kyc_core.cases.review import FourEyesViolation, other_reviewers, review_brief
        from kyc_core.store.db import session_scope

        summary = self.assessment or {}
        if not summary.get("requires_review"):
            raise AirflowSkipException("no human review required for this decision")
        decision_id = summary["decision_id"]
        try:
            with session_scope(kyc_database_url(self.kyc_conn_id)) as session:
                brief = review_brief(session, decision_id, self.stage)
        except FourEyesViolation as exc:
            raise AirflowFailException(str(exc)) from None
        self.subject, self.body = brief.subject, brief.body
        allowed = self._allowed()
        if allowed:
            remaining = other_reviewers(allowed, brief.reviewed_by)
            if not remaining:
                raise AirflowFailException(
                    f"no allowed reviewer left for stage {self.stage} (allowed: {allowed}, already: {brief.reviewed_by})"
                )
            self.assigned_users = [{"id": user, "name": user} for user in remaining]
        self.log.info("decision %s waits for review %d/2", decision_id, self.stage)
        return super().execute(context)

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        from kyc_core.cases.review import FourEyesViolation, Review, record_review
        from kyc_core.store.db import session_scope

        answer = super().execute_complete(context, event)
        user = answer["responded_by_user"] or {}
        responded_at = answer["responded_at"]
        if isinstance(responded_at, str):
            responded_at = datetime.fromisoformat(responded_at)
        review = Review(
            stage=self.stage,
            reviewer_id=str(user.get("id")),
            reviewer_name=str(user.get("name")),
            choice=answer["chosen_options"][0],
            rationale=str((answer.get("params_input") or {}).get("rationale", "")),
            responded_at=responded_at or datetime.now(UTC),
        )
        decision_id = self.assessment["decision_id"]
        try:
            with session_scope(kyc_database_url(self.kyc_conn_id)) as session:
                record_review(
                    session, decision_id, review, allowed=self._allowed() or None, actor=f"user:{review.reviewer_id}", run_id=run_id_of(context)
                )
        except FourEyesViolation as exc:
            raise AirflowFailException(str(exc)) from None
        self.log.info("decision %s: review %d/2 recorded (%s by %s)", decision_id, self.stage, review.choice, review.reviewer_id)
        return {"decision_id": decision_id, "stage": self.stage, "reviewer": review.reviewer_id, "choice": review.choice}

