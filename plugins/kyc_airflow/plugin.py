"""Airflow plugin: mounts the analysts' KYC workspace in the api-server and adds it to the UI's navigation.

Registered through the `airflow.plugins` entry point of this distribution, so it loads wherever the package is
installed (the demo's virtualenv, the docker image), whatever `[core] plugins_folder` says.
"""

from __future__ import annotations

from typing import Any

from airflow.plugins_manager import AirflowPlugin

from kyc_airflow.answers import install as install_answer_capture
from kyc_airflow.intake import install as install_intake

#: Where the api-server mounts the workspace (must not start with one of Airflow's reserved prefixes).
URL_PREFIX = "/kyc"


class LazyWorkspace:
    """ASGI app that builds the workspace on its first request.

    Every Airflow process loads plugins, task processes included; only the api-server serves requests, so
    only it pays for importing FastAPI, the templates and the auth manager's security helpers.
    """

    def __init__(self) -> None:
        self._app: Any = None

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if self._app is None:
            from kyc_airflow.workspace.app import create_app

            self._app = create_app()
        await self._app(scope, receive, send)


class KycWorkspacePlugin(AirflowPlugin):
    """Cases list, case pages and source health, behind Airflow's login and its DAG read permission."""

    name = "kyc_workspace"
    fastapi_apps = [{"app": LazyWorkspace(), "url_prefix": URL_PREFIX, "name": "KYC workspace"}]
    # Shown in the UI's navigation; Airflow frames the page, which carries the user's login cookie.
    external_views = [
        {"name": "KYC cases", "href": f"{URL_PREFIX}/cases", "destination": "nav", "category": "browse",
         "url_route": "kyc-cases"},
        {"name": "KYC source health", "href": f"{URL_PREFIX}/sources", "destination": "nav", "category": "browse",
         "url_route": "kyc-sources"},
    ]


# Review answers are accepted by the api-server's human-in-the-loop API: record each as it is given, whatever
# happens to the resumed task (see kyc_airflow.answers). A listener on the ORM sessions of this process; in
# processes that never write a human answer it never fires.
install_answer_capture()
# Onboarding runs keep customer ids, never the customers themselves (see kyc_airflow.intake).
install_intake()
