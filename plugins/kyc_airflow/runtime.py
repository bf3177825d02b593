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


#: Auth managers whose user id is a database row number; their users are known to the product by login (the name).
_ROW_ID_AUTH_MANAGERS = ("kyc_airflow.auth.KycAuthManager", "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager")


def _ids_are_rows() -> bool:
    from airflow.configuration import conf

    return conf.get("core", "auth_manager", fallback="") in _ROW_ID_AUTH_MANAGERS


def reviewer_of(user: dict[str, Any] | None) -> dict[str, Any]:
    """The answering user of a human-in-the-loop answer as the product names reviewers (`KYC_REVIEWERS`): Airflow's
    user id, except under FAB's auth manager, whose id is a row number and whose name is the login."""
    user = dict(user or {})
    if _ids_are_rows() and user.get("name"):
        user["id"] = user["name"]
    return user


def login_of(user: Any) -> str:
    """The acting user of a request (an auth manager's user object), as `reviewer_of` names it."""
    return str(user.get_name() if _ids_are_rows() else user.get_id())


def run_id_of(context: dict[str, Any]) -> str | None:
    """The run id of the current DAG run."""
    return context.get("run_id")
