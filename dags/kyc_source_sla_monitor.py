"""
### Source SLA monitor

Every 5 minutes, judges each source (Sirene, RNE, RBE, BODACC, the OFAC, EU and UN lists) against its
SLA and e-mails on-call on **transitions only**.

**Stages**
1. `probe_sources`: one free canary request per source (Sirene legal unit, RNE SSO login, BODACC
   records with `limit=1`, a HEAD on each list file), recorded in the call ledger as `probe`, so
   availability is known without customer traffic. No paid request is ever made.
2. `evaluate`: availability, error rate and p95 latency over sliding windows (15 min, 1 h, 24 h) of
   the call ledger, data freshness, and the circuit breaker shared in Redis give each source a status:
   `healthy`, `degraded` (warning), `down` (critical; emergency after an hour) or `unknown` (nothing
   could be measured: never healthy). Every evaluation is a `source_health` row with the content hash
   of the SLA file; incidents open, change severity, remind and resolve in `source_incident`, each
   alerting transition queued once in the alert outbox under a unique key.
3. `send_alerts`: sends what the outbox holds through `kyc_smtp`; an alert that could not be sent
   stays pending and is retried, never sent twice. Each alert sent is an audit event.

Configuration: `include/policies/monitoring/sla.yaml` (`KYC_MONITORING_DIR`). A file that does not
validate is refused, naming the field, and the previous configuration stays in force.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import dag, get_current_context, task
from kyc_airflow.defaults import DEFAULT_ARGS, START_DATE


@dag(
    dag_id="kyc_source_sla_monitor",
    schedule=timedelta(minutes=5),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args={**DEFAULT_ARGS, "retries": 2, "retry_delay": timedelta(seconds=20)},
    dagrun_timeout=timedelta(minutes=4),
    tags=["kyc", "monitoring"],
    doc_md=__doc__,
)
def kyc_source_sla_monitor():
    @task
    def probe_sources() -> dict:
        from kyc_airflow.tasks.monitoring import probe_sources as run

        return run(get_current_context())

    @task(trigger_rule="all_done")
    def evaluate() -> dict:
        from kyc_airflow.tasks.monitoring import evaluate as run

        return run(get_current_context())

    @task
    def send_alerts() -> dict:
        from kyc_airflow.tasks.monitoring import send_alerts as run

        return run(get_current_context())

    probe_sources() >> evaluate() >> send_alerts()


kyc_source_sla_monitor()
