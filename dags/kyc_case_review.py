"""
### KYC case review

The human review of one proposed decision: one run per decision (run id `case__<decision id>`), started by
`kyc_onboarding` when a decision needs a person, with ids only in its conf (`decision_id`). Pending reviews
never hold an onboarding run: each waits here, in its own run.

**Stages**
1. `plan_review`: which review the decision needs: **single** for `review` (a possible sanctions match, a
   source that could not be consulted, a declared name that is not the registered one), **four eyes** for
   `edd_required` and `reject`.
2. `await_sources`: a decision proposed because a mandatory register could not be consulted waits for it: the
   missing registers are probed after 5 minutes, then with a doubling wait up to 2 hours (`KYC_SOURCE_RETRY_*`);
   once they answer the customer is re-assessed in full and the new decision replaces this one (and is reviewed
   here if it needs a person). Past the deadline (6 hours) a person decides on what is known. Any other decision
   passes straight through.
3. `review_1`: the reviewer (`KYC_REVIEWERS`): for a single review, the outcome (`Approve`, `EDD required`,
   `Reject`); for four eyes, `Confirm` or `Overturn`.
4. `review_2`: four eyes only: a second, different reviewer confirms or overturns.
5. `senior_review`: only when the two reviewers did not both confirm: a senior reviewer (`KYC_SENIOR_REVIEWERS`)
   chooses the outcome, so a disagreement never ends as an open case nobody decides.
6. `finalize`: the final decision, whose actor is the reviewer(s); its return value is the final outcome.

Each open stage e-mails compliance with a link to its form (Required actions in the UI, or the REST API) and
asks for a rationale of at least 5 characters. The form also asks about each open hit of the decision
(`Undecided`, `False positive` or `True match`): the judgements are recorded with the answer, the reviewer as
analyst, and a false positive stays suppressed at later screenings while the list entry is unchanged; clearing a
hit judged a true match takes two different reviewers. An answer is recorded once in the audit trail; an answer that
arrives while the KYC database is down waits for it; a refused answer (no rationale through the REST API) is
audited and the reviewer is asked again. Explain any decision with `kyc case show <decision id>`.
"""

from __future__ import annotations

from airflow.sdk import Param, dag, get_current_context, task
from kyc_airflow.defaults import DEFAULT_ARGS, NO_RETRY, REVIEW_TASK, START_DATE
from kyc_airflow.notifiers.deadline import decision_deadline_alert
from kyc_airflow.operators.review import CaseReviewOperator
from kyc_core.monitoring.deadlines import decision_deadline
from kyc_core.settings import get_settings

#: How long a decision waits for a register that could not be consulted (KYC_SOURCE_RETRY_*).
_RETRY = get_settings()


@dag(
    dag_id="kyc_case_review",
    schedule=None,
    start_date=START_DATE,
    catchup=False,
    # One run per case; a pending review waits for days without holding anything else.
    max_active_runs=500,
    default_args=DEFAULT_ARGS,
    # A case with no final decision by the policies' `decision_sla.final_decision_hours` e-mails compliance.
    deadline=decision_deadline_alert(decision_deadline(stage="final")),
    tags=["kyc", "review"],
    doc_md=__doc__,
    params={
        "decision_id": Param(
            "", type="string", pattern="^[0-9a-f-]{36}$", title="Decision id",
            description="The decision to review (started by kyc_onboarding; ids only).",
        )
    },
    render_template_as_native_obj=True,
)
def kyc_case_review():
    @task(**NO_RETRY)
    def plan_review(params=None) -> dict:
        from kyc_airflow.tasks.review import plan_review as run

        return run(params["decision_id"], get_current_context())

    @task(trigger_rule="none_failed")
    def finalize(plan: dict) -> dict:
        from kyc_airflow.tasks.review import finalize as run

        return run(plan, get_current_context())

    @task.sensor(mode="reschedule", poke_interval=_RETRY.source_retry_first_s, exponential_backoff=True,
                 max_wait=_RETRY.source_retry_max_s, timeout=_RETRY.source_retry_deadline_s + _RETRY.source_retry_max_s)
    def await_sources(plan: dict):
        from kyc_airflow.tasks.review import await_sources as run

        return run(plan, get_current_context())

    plan = await_sources(plan_review())
    first = CaseReviewOperator(task_id="review_1", plan=plan, stage=1, **REVIEW_TASK)
    second = CaseReviewOperator(task_id="review_2", plan=plan, stage=2, trigger_rule="none_failed", **REVIEW_TASK)
    senior = CaseReviewOperator(task_id="senior_review", plan=plan, stage=3, trigger_rule="none_failed", **REVIEW_TASK)
    first >> second >> senior >> finalize(plan)


kyc_case_review()
