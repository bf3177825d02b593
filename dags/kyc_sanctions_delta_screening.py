"""
### Sanctions delta screening

Screens what changed in the sanctions lists against the whole customer base, as soon as
`kyc_sanctions_refresh` activates a new list version (asset `kyc://sanctions/active-lists`).

**Who is screened**: every customer (a person's name with birth date and nationality, an entity's
declared name), the officers and beneficial owners each customer declared at onboarding, and, when the
registers were consulted, the officers and beneficial owners of the latest RNE record kept for it.

**Stages**
1. `versions_to_screen`: the list versions named by the triggering events (or by `version_ids` in the
   conf of a manual run), plus any activated version whose delta was never screened (a missed event).
2. `screen_delta`: only the added and changed entries of those versions are screened, through an index
   of the customer side. Hits at or above the review threshold of the customer's segment policy are
   recorded in `screening_hit` with their explanation; a hit an analyst judged a false positive is left
   out while the listed entry is unchanged. The customers concerned are flagged for review, with one
   `customer_flagged` audit event each and one `screening_completed` event per list version.
3. `notify_compliance`: one e-mail to compliance per run listing the flagged customer ids and their new
   hit counts (none when nobody was flagged; never twice for a run).

Re-running a run writes nothing new: hits, flags and audit events are keyed on the list version.
XCom carries version ids and counts only; logs name customers by id only.
"""

from __future__ import annotations

from airflow.sdk import Param, dag, get_current_context, task
from kyc_airflow.assets import ACTIVE_LISTS_ASSET
from kyc_airflow.defaults import DEFAULT_ARGS, START_DATE


@dag(
    dag_id="kyc_sanctions_delta_screening",
    schedule=[ACTIVE_LISTS_ASSET],
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["kyc", "sanctions", "screening"],
    doc_md=__doc__,
    params={
        "version_ids": Param(
            [],
            type="array",
            items={"type": "integer", "minimum": 1},
            title="List versions",
            description="Manual runs: list version ids whose delta to screen (asset-triggered runs read the event).",
        )
    },
)
def kyc_sanctions_delta_screening():
    @task
    def versions_to_screen(params=None) -> list[int]:
        from kyc_airflow.tasks.sanctions import versions_to_screen as run

        return run(get_current_context(), params.get("version_ids") or [])

    @task
    def screen_delta(version_ids: list[int]) -> dict:
        from kyc_airflow.tasks.sanctions import screen_delta as run

        return run(version_ids, get_current_context())

    @task
    def notify_compliance() -> dict:
        from kyc_airflow.tasks.monitoring import notify_delta_screening as run

        return run(get_current_context())

    screen_delta(versions_to_screen()) >> notify_compliance()


kyc_sanctions_delta_screening()
