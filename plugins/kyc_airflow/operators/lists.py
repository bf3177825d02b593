"""A person approves or rejects a quarantined sanctions list version, on Airflow's human-in-the-loop operator."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.providers.standard.operators.hitl import HITLOperator
from airflow.sdk import Param
from airflow.sdk.exceptions import AirflowException, AirflowSkipException

from kyc_airflow.runtime import kyc_database_url, reviewer_of

#: The answers a quarantined version can get.
APPROVE, REJECT = "Approve", "Reject"
#: Under the refresh schedule (4 h): the next run, which waits for this one, asks again if nobody answered.
QUARANTINE_WAIT = timedelta(hours=3, minutes=30)


def _brief(summary: dict[str, Any]) -> str:
    """The form's body: counts and ids only."""
    return "\n".join(
        [
            f"List `{summary['list']}`, version {summary['version_id']} is **quarantined**: {summary['reason']}.",
            "",
            "| | entries |",
            "|---|---|",
            f"| active version {summary['active_version_id']} | {summary['active_entries']} |",
            f"| quarantined version {summary['version_id']} | {summary['entries']} |",
            f"| added / changed / removed | {summary['added']} / {summary['changed']} / {summary['removed']} |",
            "",
            f"Published {summary['published_at'] or 'at an unknown date'}, downloaded {summary['loaded_at']}.",
            "Screening keeps the active version until this one is approved. Check the publisher's own notice of",
            "delistings before approving (`kyc lists quarantine` shows the same figures).",
        ]
    )


class ListQuarantineReviewOperator(HITLOperator):
    """
    Ask a person to approve or reject one quarantined list version; record the answer in the KYC database.

    Approve activates the version (audited with the approver and rationale; the refresh DAG then emits the
    "active lists changed" event); Reject marks it rejected. A version already decided (say with `kyc lists
    approve`) is skipped. Opening the question e-mails compliance with a link to the form. Nobody answering
    within `response_timeout` skips the task: the version stays quarantined and the next run asks again.

    :param version_id: the quarantined version (templated; mapped from the versions waiting).
    :param kyc_conn_id: connection of the KYC database.
    :param smtp_conn_id: connection the alert e-mail goes through.
    """

    template_fields = (*HITLOperator.template_fields, "version_id")

    def __init__(
        self,
        *,
        version_id: Any,
        kyc_conn_id: str = "kyc_db",
        smtp_conn_id: str = "kyc_smtp",
        response_timeout: timedelta | None = QUARANTINE_WAIT,
        **kwargs: Any,
    ) -> None:
        kwargs.pop("params", None)
        super().__init__(
            subject="Quarantined sanctions list version",
            options=[APPROVE, REJECT],
            params={
                "rationale": Param("", type="string", title="Rationale (required)",
                                   description="Why; at least 5 characters, kept in the audit trail."),
            },
            response_timeout=response_timeout,
            **kwargs,
        )
        self.version_id = version_id
        self.kyc_conn_id = kyc_conn_id
        self.smtp_conn_id = smtp_conn_id

    def execute(self, context: Any) -> Any:
        from airflow.sdk.definitions.param import ParamsDict
        from kyc_core.lists.versions import MIN_RATIONALE, quarantine_summary
        from kyc_core.store.db import session_scope

        from kyc_airflow.notifiers.compliance import ReviewRequestNotifier

        version_id = int(self.version_id)
        with session_scope(kyc_database_url(self.kyc_conn_id)) as session:
            summary = quarantine_summary(session, version_id)
        if summary is None:
            raise AirflowSkipException(f"list version {version_id} is no longer quarantined")
        self.subject = (
            f"Sanctions list {summary['list']} version {version_id} quarantined: "
            f"{summary['removed']} entries removed"
        )
        self.body = _brief(summary)
        self.params = ParamsDict({"rationale": Param("", type="string", minLength=MIN_RATIONALE,
                                                     title="Rationale (required)",
                                                     description=f"Why; at least {MIN_RATIONALE} characters, kept in the audit trail.")})
        ReviewRequestNotifier(subject=self.subject, body=self.body, link=self._form_link(context),
                              smtp_conn_id=self.smtp_conn_id).notify(context)
        self.log.warning("list version %d quarantined (%s): waiting for a person", version_id, summary["reason"])
        return super().execute(context)

    def _form_link(self, context: Any) -> str | None:
        try:
            return self.generate_link_to_ui(task_instance=context["task_instance"])
        except Exception:  # noqa: BLE001 - no base URL configured: the e-mail says where to look instead
            return None

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        from kyc_core.errors import UserError
        from kyc_core.lists.refresh import outcome_summary
        from kyc_core.lists.versions import MIN_RATIONALE, approve_version, reject_version
        from kyc_core.store.db import session_scope

        version_id = int(self.version_id)
        if event.get("error_type") == "timeout":
            raise AirflowSkipException(
                f"nobody answered for list version {version_id}: it stays quarantined, the next run asks again"
            )
        answer = super().execute_complete(context, event)
        user = reviewer_of(answer["responded_by_user"])
        choice = answer["chosen_options"][0]
        rationale = str((answer.get("params_input") or {}).get("rationale") or "").strip()
        if len(rationale) < MIN_RATIONALE:
            # A retry parks the task again with a fresh form: the version is never decided without a reason.
            raise AirflowException(f"answer refused, asked again: a rationale of at least {MIN_RATIONALE} characters is required")
        decide = approve_version if choice == APPROVE else reject_version
        try:
            with session_scope(kyc_database_url(self.kyc_conn_id)) as session:
                outcome = decide(session, version_id, actor=f"user:{user.get('id')}", rationale=rationale)
        except UserError as exc:
            raise AirflowSkipException(str(exc)) from None
        self.log.info("list version %d: %s by %s", version_id, outcome.status, user.get("id"))
        return outcome_summary(outcome)
