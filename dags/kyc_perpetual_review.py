"""
### KYC perpetual review

Keeps every decision true after onboarding: re-reviews the customers whose periodic review is due and those
flagged since, through the same assessment as onboarding. Runs daily (05:00 UTC) and at once when
`kyc_registry_watch` reports a severe register event (asset `kyc://registry/severe-events`: liquidation,
striking-off, a listed new officer or owner); one run at a time.

**Who is reviewed** (`plan`): customers whose `next_review_date` is on or before the run's day (the decision
set it at the segment policy's cadence: high risk every 3 months, medium 6, low 12; a date past the end of a
month moves to its last day) and customers with an open review flag (`list_change` from delta screening or
a full rescreen, `registry_event` from the register watch, `manual` from `kyc customers flag`). The
selection is stored once per run with each customer's batch; its counts per reason (`periodic`,
`registry_event`, `list_change`, `manual`) are in the task's log and the `review_run_selected` audit event.

**Stages**
1. `plan`: selection and batches (`batch_size` customers each, default `KYC_REVIEW_BATCH_SIZE` = 200); returns
   the batch numbers.
2. `review_batch` (mapped, one instance per batch, labelled with its number; pool `kyc_assessment`): each
   customer is re-assessed (registers behind their breakers and cache, screening, score, decision) with the
   reason recorded in the decision lineage and the `case_created` event. A new decision is written only when
   the outcome, the risk level or the open hits changed; otherwise a `customer_reviewed` event is written and
   the next review date moves forward. A register that cannot be consulted gives `review` /
   `source_unavailable`, never a silent keep of the old decision. The flags the review acted on are cleared
   once the assessment is stored; a flag raised during the run stays open.
3. `reviews_to_open` and `open_review` (mapped): every new decision that needs a person (`review`,
   `edd_required`, `reject`) gets its own `kyc_case_review` run, as at onboarding (four eyes for EDD and reject).
4. `summary`: customers per reason and outcome, decisions written, unchanged, `source_unavailable`, register
   calls made and answered from the cache, their cost and the cache's savings. It fails the run when a selected
   customer could not be reviewed (a batch retries the customers it could not assess; after its last try the
   others' results stand and those customers stay due, their flags open, for the next run).

Re-running a run (or a killed batch) reviews each customer once: the selection is stored, reviewed customers
are marked, and decision ids are derived from the customer and the run.
"""

from __future__ import annotations

from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable, Param, dag, get_current_context, task
from kyc_airflow.assets import REGISTRY_SEVERE_EVENTS_ASSET
from kyc_airflow.defaults import DEFAULT_ARGS, START_DATE
from kyc_airflow.operators.review import OpenCaseReviewOperator
from kyc_core.settings import get_settings


@dag(
    dag_id="kyc_perpetual_review",
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable("0 5 * * *", timezone="UTC"), assets=[REGISTRY_SEVERE_EVENTS_ASSET]
    ),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["kyc", "perpetual-review"],
    doc_md=__doc__,
    params={
        "batch_size": Param(get_settings().review_batch_size, type="integer", minimum=1, maximum=5000,
                            title="Customers per batch", description="Customers re-assessed by one mapped task."),
        "review_date": Param(None, type=["null", "string"], format="date", title="Review date",
                             description="Review as of this day (YYYY-MM-DD); empty: the day the run was due."),
    },
)
def kyc_perpetual_review():
    @task
    def plan(params=None) -> list:
        from kyc_airflow.tasks.perpetual import plan_review as run

        return run(params, get_current_context())

    @task(pool="kyc_assessment", map_index_template="{{ batch_label }}")
    def review_batch(batch_no: int) -> dict:
        from kyc_airflow.tasks.perpetual import review_batch as run

        return run(batch_no, get_current_context())

    # Both run when a batch failed for good: the other batches' reviews still open, and the summary says who is left.
    @task(trigger_rule="all_done")
    def reviews_to_open(batches: list) -> list:
        from kyc_airflow.tasks.perpetual import reviews_to_open as run

        return run(batches)

    @task(trigger_rule="all_done")
    def summary(batches: list) -> dict:
        from kyc_airflow.tasks.perpetual import summarize_review as run

        return run(batches, get_current_context())

    batches = review_batch.expand(batch_no=plan())
    OpenCaseReviewOperator.partial(task_id="open_review").expand(assessment=reviews_to_open(batches))
    summary(batches)


kyc_perpetual_review()
