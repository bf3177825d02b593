"""
### KYC full rescreen

Screens the whole book again against the active sanctions lists: run by hand when what screening means has
changed (a matcher or policy change, a new list), with the **reason** recorded in every audit event and flag.
List deltas need no full rescreen: `kyc_sanctions_delta_screening` handles them.

**Stages**
1. `plan`: the book split into shards of consecutive customer ids (`shard_size`, default
   `KYC_RESCREEN_SHARD_SIZE` = 5,000); the last shard is open-ended, so a customer registered meanwhile is
   screened too.
2. `rescreen_shard` (mapped, one instance per shard, labelled with its number): the shard's customers, their
   declared officers and owners and those of the latest RNE record kept for them, screened through the
   persisted index of the active list versions at their segment's thresholds. Hits are recorded once per run
   (`full:<run id>`); a hit an analyst judged a false positive on the same entry content is left out;
   customers with a hit never recorded before are flagged `list_change`, for `kyc_perpetual_review`. Hits,
   flags and one `full_rescreen_shard` audit event are written in one transaction per shard.
3. `summary`: totals over the shards.

Shards are independent: with the CeleryExecutor they run on every worker at once, in any order; a shard
re-run (or a retry after a killed worker) finds its audit event and screens nothing twice.
"""

from __future__ import annotations

from airflow.sdk import Param, dag, get_current_context, task
from kyc_airflow.defaults import DEFAULT_ARGS, START_DATE
from kyc_core.settings import get_settings


@dag(
    dag_id="kyc_full_rescreen",
    schedule=None,
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["kyc", "sanctions", "screening"],
    doc_md=__doc__,
    params={
        "reason": Param(type="string", minLength=5, maxLength=300, title="Reason",
                        description="Why the whole book is rescreened (matcher change, policy change, new list...)."),
        "shard_size": Param(get_settings().rescreen_shard_size, type="integer", minimum=1, maximum=100_000,
                            title="Customers per shard", description="Customers screened by one mapped task."),
    },
)
def kyc_full_rescreen():
    @task
    def plan(params=None) -> list:
        from kyc_airflow.tasks.perpetual import plan_rescreen as run

        return run(params, get_current_context())

    @task(map_index_template="{{ shard_label }}")
    def rescreen_shard(shard: dict, params=None) -> dict:
        from kyc_airflow.tasks.perpetual import rescreen_shard as run

        return run(shard, params, get_current_context())

    @task
    def summary(shards: list) -> dict:
        from kyc_airflow.tasks.perpetual import summarize_rescreen as run

        return run(shards)

    summary(rescreen_shard.expand(shard=plan()))


kyc_full_rescreen()
