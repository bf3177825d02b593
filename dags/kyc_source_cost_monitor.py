"""
### Source cost monitor

Daily (06:00 UTC), reads the call ledger for the month so far and e-mails on-call and finance:

**Stages**
1. `cost_check`: spend per source at the configured tier prices, billable calls against each monthly
   quota, cache savings (cache hits times the price), the month-end forecast, against the budget of
   each source and the total (`include/policies/monitoring/budget.yaml`; default 50 EUR a month per
   paid register). An alert is queued at 80 % and at 100 % of a budget and when the forecast exceeds it,
   each at most once per month and source. On the 1st of a month (or for the `report_month` of a
   manual run) the monthly report is queued: a table and a PNG chart (attached and inline) of daily
   spend per source, with cache savings.
2. `send_alerts`: sends what the outbox holds through `kyc_smtp` (once; a failed send stays pending).
"""

from __future__ import annotations

from airflow.sdk import Param, dag, get_current_context, task
from kyc_airflow.defaults import DEFAULT_ARGS, START_DATE


@dag(
    dag_id="kyc_source_cost_monitor",
    schedule="0 6 * * *",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["kyc", "monitoring", "cost"],
    doc_md=__doc__,
    params={
        "report_month": Param(
            None,
            type=["null", "string"],
            pattern=r"^\d{4}-(0[1-9]|1[0-2])$",
            title="Report month",
            description="Manual runs: send the monthly report of this month (YYYY-MM) now.",
        )
    },
)
def kyc_source_cost_monitor():
    @task
    def cost_check(params=None) -> dict:
        from kyc_airflow.tasks.monitoring import cost_check as run

        return run(get_current_context(), (params or {}).get("report_month"))

    @task
    def send_alerts() -> dict:
        from kyc_airflow.tasks.monitoring import send_alerts as run

        return run(get_current_context())

    cost_check() >> send_alerts()


kyc_source_cost_monitor()
