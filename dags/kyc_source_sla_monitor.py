"""
### Source SLA monitor

Every 5 minutes, judges each source (Sirene, RNE, RBE, BODACC, the OFAC, EU and UN lists) against its
SLA, and our own infrastructure (Redis, the KYC database), and e-mails on-call on **transitions only**.

**Stages**
1. `check_infrastructure`: a live probe of Redis (`PING`, when `KYC_REDIS_URL` is set) and of the KYC
   database (`SELECT 1`). With the KYC database unreachable nothing can be recorded, the alert outbox
   included: on-call is e-mailed directly (`[KYC][CRITICAL] kyc_database unreachable since …`),
   deduplicated through Redis (again every `reminder_after` while it lasts) or, without Redis, on every
   run with a subject saying so; the task fails without retry (the run shows red) and the rest is skipped.
2. `probe_sources`: one free canary request per source (Sirene legal unit, RNE SSO login, BODACC
   records with `limit=1`, a HEAD on each list file), recorded in the call ledger as `probe`, so
   availability is known without customer traffic. No paid request is ever made.
3. `evaluate`: availability, error rate and p95 latency over sliding windows (15 min, 1 h, 24 h) of
   the call ledger, data freshness, and the circuit breaker shared in Redis give each source a status:
   `healthy`, `degraded` (warning), `down` (critical; emergency after an hour) or `unknown` (nothing
   could be measured: never healthy). Every evaluation is a `source_health` row with the content hash
   of the SLA file; incidents open, change severity, remind and resolve in `source_incident`, each
   alerting transition queued once in the alert outbox under a unique key. The infrastructure probes
   and the `infrastructure_unavailable` audit events appended since the last check (per component,
   with counts, first and last time, registers not consulted, customers and runs affected) drive one
   incident per component (kind `infrastructure`) under the same rules.
4. `send_alerts`: sends what the outbox holds through `kyc_smtp`; an alert that could not be sent
   stays pending and is retried, never sent twice. Each alert sent is an audit event.

Configuration: `include/policies/monitoring/sla.yaml` (`KYC_MONITORING_DIR`), its `infrastructure`
section for the probes and events. A file that does not validate is refused, naming the field, and
the previous configuration stays in force.
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
    def check_infrastructure() -> dict:
        from kyc_airflow.tasks.monitoring import check_infrastructure as run

        return run(get_current_context())

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

    checked = check_infrastructure()
    judged = evaluate()
    checked >> probe_sources() >> judged
    # With the KYC database unreachable the rest cannot run: the run ends failed, not skipped green.
    [checked, judged] >> send_alerts()


kyc_source_sla_monitor()
