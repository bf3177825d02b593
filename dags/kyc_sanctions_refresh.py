"""
### Sanctions lists refresh

Keeps OFAC SDN, UN Security Council and EU Financial Sanctions lists current, every four hours.

**Configuration**: connection `kyc_sanctions_lists` (host = base URL under which the official paths are
served; the local emulator serves them under `/lists`). Its extra may choose the lists
(`{"enabled": ["ofac_sdn", "un_sc", "eu_fsf"]}`) and override any list's files with URLs relative to the
base or absolute (`{"lists": {"un_sc": "https://scsanctions.un.org/resources/xml/en/consolidated.xml"}}`;
OFAC's CSV trio as `{"sdn.csv": url, "add.csv": url, "alt.csv": url}`).

**Stages**
1. `plan_lists`: which lists to refresh (the connection is checked before any download).
2. `refresh_list` (one mapped task per list): download through the list's circuit breaker with retries,
   one `source_call` row per file, never from a cache; parse and validate; store a new version when the
   content changed and activate it, with its delta (added, changed, removed entries). An unchanged list
   writes nothing. A file that does not parse, holds no entries, holds another list, lost more than 10 %
   of its entries, disagrees with its publisher's own record count or is dated before the active version is
   **refused**: the refusal is recorded and audited, the previous version stays active and the task fails
   without retry so that on-call looks at it. A version that would remove more than 50 entries or more than
   1 % of the active ones (`KYC_LIST_QUARANTINE_MAX_REMOVED`, `KYC_LIST_QUARANTINE_MAX_REMOVED_PCT`) is
   **quarantined**: stored, audited (`list_version_quarantined`), not active.
3. `publish_changes`: when at least one list was activated, emits one event on the asset
   `kyc://sanctions/active-lists` whose extra carries, per list, the new version id, content hash and
   delta counts. When nothing changed the task is skipped and no event is emitted.
   It runs even when a list failed, so the lists that did change are screened without delay.
4. `report_failed_lists`: fails the run when any list failed (it is skipped otherwise).
5. `find_quarantined` then `review_quarantine` (one human-in-the-loop task per quarantined version, skipped
   when there is none): compliance is e-mailed a link to the form (Required actions), a person chooses
   `Approve` (the version becomes active, audited with the approver and rationale) or `Reject` (it is
   marked rejected and the same content is refused later), with a rationale of at least 5 characters.
   Unanswered after 3 h 30 the task is skipped and the next run asks again; screening keeps the active
   version meanwhile (`kyc lists approve|reject` decide from the command line too).
6. `publish_approved`: the "active lists changed" event for an approved version (skipped otherwise).

The event schedules `kyc_sanctions_delta_screening`.
"""

from __future__ import annotations

from airflow.sdk import dag, get_current_context, task
from kyc_airflow.assets import ACTIVE_LISTS_ASSET
from kyc_airflow.defaults import DEFAULT_ARGS, REVIEW_TASK, START_DATE
from kyc_airflow.operators.lists import ListQuarantineReviewOperator


@dag(
    dag_id="kyc_sanctions_refresh",
    schedule="0 */4 * * *",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["kyc", "sanctions"],
    doc_md=__doc__,
)
def kyc_sanctions_refresh():
    @task
    def plan_lists() -> list[str]:
        from kyc_airflow.tasks.sanctions import plan_lists as run

        return run()

    @task(map_index_template="{{ list_key }}")
    def refresh_list(list_key: str) -> dict:
        from kyc_airflow.tasks.sanctions import refresh_one

        context = get_current_context()
        context["list_key"] = list_key
        return refresh_one(list_key, context)

    @task(outlets=[ACTIVE_LISTS_ASSET], trigger_rule="all_done")
    def publish_changes(outcomes) -> dict:
        from kyc_airflow.tasks.sanctions import publish_changes as run

        return run(list(outcomes), get_current_context())

    @task(trigger_rule="one_failed")
    def report_failed_lists() -> None:
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException(
            "at least one list could not be refreshed: see the failed refresh_list tasks"
        )

    @task(trigger_rule="all_done")
    def find_quarantined() -> list[int]:
        from kyc_airflow.tasks.sanctions import quarantined_version_ids

        return quarantined_version_ids()

    @task(outlets=[ACTIVE_LISTS_ASSET], trigger_rule="all_done")
    def publish_approved(decisions) -> dict:
        from kyc_airflow.tasks.sanctions import publish_changes as run

        return run(list(decisions), get_current_context())

    outcomes = refresh_list.expand(list_key=plan_lists())
    publish_changes(outcomes)
    outcomes >> report_failed_lists()
    quarantined = find_quarantined()
    outcomes >> quarantined
    review = ListQuarantineReviewOperator.partial(task_id="review_quarantine", **REVIEW_TASK).expand(
        version_id=quarantined
    )
    publish_approved(review.output)


kyc_sanctions_refresh()
