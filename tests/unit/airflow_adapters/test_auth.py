"""The production auth manager's KYC pieces: reviewers known by login, the roles' declared permissions.

The roles themselves are exercised over HTTP against a running FAB api-server in
tests/system/test_celery_stack.py (an analyst gets 403 on the audit log and on runs).
"""

from __future__ import annotations

from dataclasses import dataclass

from airflow.providers.fab.auth_manager.fab_auth_manager import FabAuthManager
from airflow.providers.fab.www.security import permissions as fab
from kyc_airflow.auth import ANALYST, INTEGRATOR, ROLES, KycAuthManager
from kyc_airflow.runtime import login_of, reviewer_of
from kyc_core.cases.review import Review


@dataclass
class FabUser:
    """What FAB's user model answers: its row number as the id, the login as the name."""

    id: int
    username: str

    def get_id(self) -> str:
        return str(self.id)

    def get_name(self) -> str:
        return self.username


def _may_answer(manager_class: type, user: FabUser, assigned: set[str]) -> bool:
    manager = manager_class.__new__(manager_class)
    return manager.is_authorized_hitl_task(assigned_users=assigned, user=user)


def test_a_review_assigned_to_a_login_accepts_that_user_and_nobody_else():
    analyst1, analyst2 = FabUser(3, "analyst1"), FabUser(4, "analyst2")
    assert _may_answer(KycAuthManager, analyst1, {"analyst1"})
    assert not _may_answer(KycAuthManager, analyst2, {"analyst1"})
    # FAB's own rule compares the row number: the task assigned to "analyst1" would refuse analyst1.
    assert not _may_answer(FabAuthManager, analyst1, {"analyst1"})


def test_the_reviewer_recorded_is_the_login_under_either_auth_manager(monkeypatch):
    fab_answer = {"id": "3", "name": "analyst1"}
    monkeypatch.setenv("AIRFLOW__CORE__AUTH_MANAGER", "kyc_airflow.auth.KycAuthManager")
    assert reviewer_of(fab_answer)["id"] == "analyst1"
    assert Review.from_answer(1, reviewer_of(fab_answer), ["Approve"], {"rationale": "clean"}, None).reviewer_id == "analyst1"
    assert login_of(FabUser(3, "analyst1")) == "analyst1"
    # Other auth managers keep Airflow's id (the simple one's is the login; a display name is not an identity).
    monkeypatch.setenv("AIRFLOW__CORE__AUTH_MANAGER",
                       "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager")
    assert reviewer_of({"id": "analyst1", "name": "Analyst One"})["id"] == "analyst1"
    assert login_of(FabUser(3, "analyst1")) == "3"


def test_analysts_get_neither_runs_nor_the_audit_log_and_integrators_answer_no_review():
    analyst, integrator = set(ROLES[ANALYST]), set(ROLES[INTEGRATOR])
    for role in (analyst, integrator):
        assert not {p for p in role if p[1] in (fab.RESOURCE_AUDIT_LOG, fab.RESOURCE_AUDIT_LOG_ALL)}
        assert (fab.ACTION_CAN_READ, fab.RESOURCE_DAG) not in role  # no global DAG access, only named DAGs
    assert not {p for p in analyst if p[1] == fab.RESOURCE_DAG_RUN}
    assert (fab.ACTION_CAN_EDIT, fab.RESOURCE_HITL_DETAIL) in analyst
    assert (fab.ACTION_CAN_EDIT, fab.RESOURCE_HITL_DETAIL) not in integrator
    assert (fab.ACTION_CAN_CREATE, fab.RESOURCE_DAG_RUN) in integrator
