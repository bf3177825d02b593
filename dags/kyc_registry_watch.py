"""
### Registry watch

Every day, watches the monitored book (the SIRENs of registered company customers) for register events and
flags the customers concerned for re-review (`review_flag`, reason `registry_event`).

**Configuration**: connections `kyc_bodacc`, `kyc_sirene`, `kyc_rne` (the same as onboarding) and `kyc_db`.
Params (manual runs): `batch_size` (SIRENs per BODACC query, 50), `initial_lookback_days` (first run, 30),
`max_companies` (Sirene/RNE re-fetches per run, empty = every due company), `refetch_all` (re-fetch every company
now, bypassing the cadence and the response cache).

**Stages**
1. `bodacc_notices`: notices published since the stored watermark (a missed day is caught up) for the monitored
   SIRENs, in batches of where-clauses, families `collective` (safeguard, receivership, liquidation), `radiation`
   (striking-off) and `vente` (sale or transfer of the business). The watermark moves to today only when every
   batch was read.
2. `register_changes`: companies whose Sirene and RNE answers are a day old or more are fetched again and compared
   with their last compared answers: officers in or out, beneficial owners in or out, company ceased, registered
   office moved abroad, NAF code changed into a sensitive activity. New officers and owners are screened.
3. `publish_severe`: when this run found a severe event (liquidation, striking-off, a new officer or owner on a
   list), emits one event on `kyc://registry/severe-events` whose extra carries the customer ids; it schedules
   `kyc_perpetual_review`. Skipped otherwise.
4. `check_sources`: fails the run when a source could not be read (named, with the watermark it kept).

Every event is stored once (`registry_event`, unique per SIREN, type and evidence) with its evidence, audited
(`registry_event_detected`); a re-run writes nothing new.
"""

from __future__ import annotations

from airflow.sdk import Param, dag, get_current_context, task
from kyc_airflow.assets import REGISTRY_SEVERE_EVENTS_ASSET
from kyc_airflow.defaults import DEFAULT_ARGS, START_DATE


@dag(
    dag_id="kyc_registry_watch",
    schedule="0 4 * * *",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["kyc", "registry", "perpetual"],
    doc_md=__doc__,
    params={
        "batch_size": Param(50, type="integer", minimum=1, maximum=100, description="SIRENs per BODACC query"),
        "initial_lookback_days": Param(30, type="integer", minimum=1, maximum=365,
                                       description="days of BODACC read by the first run"),
        "max_companies": Param(None, type=["null", "integer"], minimum=1,
                               description="Sirene/RNE re-fetches per run (empty: every due company)"),
        "refetch_all": Param(False, type="boolean",
                             description="re-fetch every company now from the source, whatever its cadence"),
    },
)
def kyc_registry_watch():
    @task
    def bodacc_notices() -> dict:
        from kyc_airflow.tasks.watch import bodacc_notices as run

        return run(get_current_context())

    @task(trigger_rule="all_done")
    def register_changes() -> dict:
        from kyc_airflow.tasks.watch import register_changes as run

        return run(get_current_context())

    @task(outlets=[REGISTRY_SEVERE_EVENTS_ASSET], trigger_rule="all_done")
    def publish_severe() -> dict:
        from kyc_airflow.tasks.watch import publish_severe as run

        return run(get_current_context())

    @task(trigger_rule="all_done")
    def check_sources() -> dict:
        from kyc_airflow.tasks.watch import check_sources as run

        return run(get_current_context())

    bodacc = bodacc_notices()
    registers = register_changes()
    bodacc >> registers >> publish_severe() >> check_sources()


kyc_registry_watch()
