"""What a running task needs from Airflow: the KYC database URL and who to name as the actor."""

from __future__ import annotations

from typing import Any


def kyc_database_url(conn_id: str = "kyc_db") -> str:
    """The KYC database URL from the Airflow connection."""
    from kyc_airflow.hooks.kyc_db import KycDatabaseHook

    return KycDatabaseHook(kyc_conn_id=conn_id).get_uri()


def actor_for(context: dict[str, Any]) -> str:
    """`user:<name>` when a person triggered the run, else `airflow:<dag>.<task>`."""
    dag_run = context.get("dag_run")
    user = getattr(dag_run, "triggering_user_name", None) if dag_run is not None else None
    ti = context.get("ti")
    where = f"{getattr(ti, 'dag_id', '?')}.{getattr(ti, 'task_id', '?')}"
    return f"user:{user}" if user else f"airflow:{where}"


def run_id_of(context: dict[str, Any]) -> str | None:
    """The run id of the current DAG run."""
    return context.get("run_id")
