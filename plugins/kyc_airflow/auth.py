"""The production auth manager: Airflow's FAB auth manager with the KYC roles kept as this module declares them.

`make stack` and docker compose run the api-server with `AIRFLOW__CORE__AUTH_MANAGER=kyc_airflow.auth.KycAuthManager`
(`make demo` keeps Airflow's simple auth manager). Three roles:

- **kyc_analyst**: reads the KYC workspace (cases, case pages, source health), the task instances and their logs,
  and answers the human reviews of `kyc_case_review` (Required actions). It cannot read DAG runs (so no run conf)
  nor Airflow's audit log (`/api/v2/eventLogs`), nor trigger anything.
- **kyc_integrator**: starts `kyc_onboarding` (REST or the workspace's intake endpoint) and polls its runs, task
  instances and the decision's XCom; nothing of the other DAGs, no audit log, no review answers.
- **kyc_admin**: everything Airflow's `Admin` role holds (users, connections, audit log, list quarantine reviews).

The roles are brought to exactly these permissions whenever FAB initialises its resources (api-server start,
`airflow users …`, `airflow fab sync-perm`), so a permission granted by hand in the UI does not survive a restart:
change it here. FAB's own roles (Viewer, User, Op, Admin) stay as FAB defines them.

Reviewers are identified by their login name (`KYC_REVIEWERS`, the review tasks' assigned users, the audit trail):
FAB's user id is a row number, so a review task assigned to `analyst1` accepts the answer of the user whose login
is `analyst1`.

    python -m kyc_airflow.auth users docker/users.json    # create or update the users of a JSON file (with passwords)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from airflow.providers.fab.auth_manager.fab_auth_manager import FabAuthManager
from airflow.providers.fab.www.security import permissions as fab

ANALYST = "kyc_analyst"
INTEGRATOR = "kyc_integrator"
ADMIN = "kyc_admin"

ONBOARDING_DAG = fab.RESOURCE_DAG_PREFIX + "kyc_onboarding"
REVIEW_DAG = fab.RESOURCE_DAG_PREFIX + "kyc_case_review"

_SELF_SERVICE = [
    (fab.ACTION_CAN_READ, fab.RESOURCE_WEBSITE),
    (fab.ACTION_CAN_READ, fab.RESOURCE_MY_PROFILE),
    (fab.ACTION_CAN_EDIT, fab.RESOURCE_MY_PROFILE),
    (fab.ACTION_CAN_READ, fab.RESOURCE_MY_PASSWORD),
    (fab.ACTION_CAN_EDIT, fab.RESOURCE_MY_PASSWORD),
]

#: role -> (action, resource) pairs; kyc_admin is Airflow's Admin role, copied at each sync.
ROLES: dict[str, list[tuple[str, str]]] = {
    ANALYST: [
        *_SELF_SERVICE,
        # The workspace is authorised as reading kyc_onboarding (the DAG, not its runs).
        (fab.ACTION_CAN_READ, ONBOARDING_DAG),
        # Answering a review: edit the HITL detail of a kyc_case_review task (FAB asks for edit on the DAG too).
        (fab.ACTION_CAN_READ, REVIEW_DAG),
        (fab.ACTION_CAN_EDIT, REVIEW_DAG),
        (fab.ACTION_CAN_READ, fab.RESOURCE_HITL_DETAIL),
        (fab.ACTION_CAN_EDIT, fab.RESOURCE_HITL_DETAIL),
        (fab.ACTION_CAN_ACCESS_MENU, fab.RESOURCE_HITL_DETAIL),
        (fab.ACTION_CAN_READ, fab.RESOURCE_TASK_INSTANCE),
        (fab.ACTION_CAN_READ, fab.RESOURCE_TASK_LOG),
        (fab.ACTION_CAN_ACCESS_MENU, fab.RESOURCE_DAG),
    ],
    INTEGRATOR: [
        *_SELF_SERVICE,
        (fab.ACTION_CAN_READ, ONBOARDING_DAG),
        (fab.ACTION_CAN_EDIT, ONBOARDING_DAG),
        (fab.ACTION_CAN_CREATE, fab.RESOURCE_DAG_RUN),
        (fab.ACTION_CAN_READ, fab.RESOURCE_DAG_RUN),
        (fab.ACTION_CAN_READ, fab.RESOURCE_TASK_INSTANCE),
        (fab.ACTION_CAN_READ, fab.RESOURCE_XCOM),
    ],
}


def sync_roles(security_manager: Any) -> None:
    """Create or reset the KYC roles to exactly their declared permissions (kyc_admin: Admin's)."""
    sm = security_manager
    declared = dict(ROLES)
    admin = sm.find_role("Admin")
    declared[ADMIN] = sorted({(p.action.name, p.resource.name) for p in admin.permissions}) if admin else []
    for name, pairs in declared.items():
        role = sm.find_role(name) or sm.add_role(name)
        wanted = []
        for action, resource in pairs:
            permission = sm.get_permission(action, resource) or sm.create_permission(action, resource)
            if permission is not None:
                wanted.append(permission)
        if {p.id for p in role.permissions} != {p.id for p in wanted}:
            role.permissions = wanted
            sm.session.merge(role)
            sm.session.commit()


class KycAuthManager(FabAuthManager):
    """FAB's auth manager, with the KYC roles synchronised and review tasks assigned by login name."""

    def init_flask_resources(self) -> None:
        super().init_flask_resources()
        sync_roles(self.security_manager)

    def is_authorized_hitl_task(self, *, assigned_users: set[str], user: Any) -> bool:
        # Review tasks are assigned by login (KYC_REVIEWERS); FAB's get_id() is the row number.
        return user.get_name() in assigned_users or user.get_id() in assigned_users


# --- users ------------------------------------------------------------------------------------------------


def load_users(path: Path) -> list[dict[str, Any]]:
    """Users of a JSON file: a list of {username, password, roles, email?, firstname?, lastname?}."""
    try:
        users = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise SystemExit(f"cannot read users from {path}: {exc}") from None
    if not isinstance(users, list):
        raise SystemExit(f"{path}: expected a list of users")
    for n, user in enumerate(users):
        missing = [k for k in ("username", "password", "roles") if not user.get(k)]
        if missing:
            raise SystemExit(f"{path}: user {n} lacks {', '.join(missing)}")
    return users


def ensure_users(security_manager: Any, users: list[dict[str, Any]]) -> list[str]:
    """Create the users that do not exist; reset the roles and password of those that do. Returns what was done."""
    sm = security_manager
    done = []
    for spec in users:
        roles = []
        for name in spec["roles"]:
            role = sm.find_role(name)
            if role is None:
                raise SystemExit(f"user {spec['username']}: no role {name!r} (roles: {', '.join(r.name for r in sm.get_all_roles())})")
            roles.append(role)
        existing = sm.find_user(username=spec["username"])
        if existing is None:
            created = sm.add_user(username=spec["username"], first_name=spec.get("firstname") or spec["username"],
                                  last_name=spec.get("lastname") or "-",
                                  email=spec.get("email") or f"{spec['username']}@example.org", role=roles,
                                  password=spec["password"])
            if not created:
                raise SystemExit(f"user {spec['username']} could not be created (see the log above)")
            done.append(f"created {spec['username']} ({', '.join(spec['roles'])})")
        else:
            existing.roles = roles
            sm.update_user(existing)
            sm.reset_password(existing.id, spec["password"])
            done.append(f"updated {spec['username']} ({', '.join(spec['roles'])})")
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kyc_airflow.auth", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    users = sub.add_parser("users", help="create or update the users of a JSON file (the KYC roles are synced first)")
    users.add_argument("file", type=Path)
    args = parser.parse_args(argv)
    spec = load_users(args.file)
    from airflow.providers.fab.auth_manager.cli_commands.utils import get_application_builder

    with get_application_builder() as appbuilder:
        # Building the app runs init_flask_resources: the roles exist before any user is given one.
        sync_roles(appbuilder.sm)
        for line in ensure_users(appbuilder.sm, spec):
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
