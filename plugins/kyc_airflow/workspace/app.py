"""The analysts' workspace: cases, one case in full, and the sources' health, inside Airflow's api-server.

The case and source pages require an Airflow user who may read the `kyc_case_review` DAG (reviewers, admins), the
intake endpoint one who may start `kyc_onboarding` runs (integrators), both checked by Airflow's own auth manager
(the JWT from the UI's `_token` cookie or a Bearer header). Nothing here changes a case: reviews stay Airflow's
human-in-the-loop actions, which the pages link to.
"""

# No `from __future__ import annotations`: FastAPI reads the route signatures' annotations at runtime.
import json
import time as _time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode, urlparse

from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
from airflow.api_fastapi.core_api.security import get_user, requires_access_dag
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from fastapi.templating import Jinja2Templates
from kyc_core.cases.casefile import render_csv
from kyc_core.cases.queries import (
    OUTCOMES,
    RISK_LEVELS,
    SORTS,
    CaseFilter,
    case_detail,
    list_cases,
    open_incidents,
    record_case_view,
    sla_health,
    source_calls_summary,
    sources_seen,
    spend_this_month,
)
from kyc_core.errors import UserError
from kyc_core.policy import Segment, load_policy
from kyc_core.resilience.backend import RedisBackend
from kyc_core.settings import get_settings
from kyc_core.store.db import session_scope
from starlette.concurrency import run_in_threadpool

from kyc_airflow.plugin import URL_PREFIX
from kyc_airflow.runtime import kyc_database_url, login_of

#: The DAG whose readers may use the workspace: its runs are where the cases come from.
DAG_ID = "kyc_onboarding"
#: The task that assessed the customer, whose logs explain the run.
ASSESS_TASK = "customer.decide"
TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


class WorkspaceConfig:
    """Where the workspace reads from; defaults come from Airflow's `kyc_db` connection and KYC_REDIS_URL."""

    def __init__(self, database_url: str | None = None, redis_url: str | None = None, key_prefix: str = "kyc:") -> None:
        self._database_url = database_url
        self._redis_url = redis_url
        self.key_prefix = key_prefix

    @property
    def database_url(self) -> str:
        """The KYC database URL, from the `kyc_db` connection unless given."""
        if self._database_url is None:
            return kyc_database_url()
        return self._database_url

    @property
    def redis_url(self) -> str | None:
        """The shared-state Redis URL, from the settings unless given."""
        if self._redis_url is None:
            return get_settings().redis_url
        return self._redis_url


# --- authorisation --------------------------------------------------------------------------------------


#: Reading cases is reading the DAG where cases are reviewed: reviewers and admins may, an integrator (who may only
#: start `kyc_onboarding` and read its runs) may not.
CASES_DAG_ID = "kyc_case_review"


def _case_reader():
    """Airflow's own check: the caller may read the `kyc_case_review` DAG (401 anonymous, 403 otherwise)."""
    return requires_access_dag("GET", param_dag_id=CASES_DAG_ID)


def _actor(user: Any) -> str:
    return f"user:{login_of(user)}"


# --- helpers ----------------------------------------------------------------------------------------------


def _ui_base() -> str:
    """Path prefix of Airflow's UI ('' when served at the root)."""
    try:
        from airflow.configuration import conf

        return urlparse(conf.get("api", "base_url", fallback="") or "").path.rstrip("/")
    except Exception:  # noqa: BLE001 - a missing option means the UI is at the root
        return ""


def _links(run_id: str | None) -> dict[str, str]:
    base = _ui_base()
    links = {
        "dag": f"{base}/dags/{DAG_ID}",
        "trigger": f"{base}/dags/{DAG_ID}/trigger",
        "required_actions": f"{base}/required_actions?response_received=false",
    }
    if run_id:
        run = f"{base}/dags/{DAG_ID}/runs/{quote(run_id, safe='')}"
        # The assessment is a mapped task (one instance per customer of the run): its page lists them with logs.
        links.update(run=run, run_required_actions=f"{run}/required_actions", run_tasks=f"{run}/tasks/{ASSESS_TASK}")
    return links


def _flag(value: str | None, name: str) -> bool | None:
    if value in (None, "", "any"):
        return None
    if value in ("yes", "true", "1"):
        return True
    if value in ("no", "false", "0"):
        return False
    raise HTTPException(400, f"{name}: expected yes or no")


def _day(value: str | None, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise HTTPException(400, f"{name}: expected a date YYYY-MM-DD") from None


def _choice(value: str | None, allowed: tuple[str, ...], name: str) -> str | None:
    if value in (None, "", "any"):
        return None
    if value not in allowed:
        raise HTTPException(400, f"{name}: expected one of {', '.join(allowed)}")
    return value


def _list_params(
    outcome: str | None = None,
    segment: str | None = None,
    risk_level: str | None = None,
    awaiting_review: str | None = None,
    source_unavailable: str | None = None,
    flagged: str | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
    sort: str = "created_at",
    order: str = "desc",
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    if sort not in SORTS:
        raise HTTPException(400, f"sort: expected one of {', '.join(SORTS)}")
    if order not in ("asc", "desc"):
        raise HTTPException(400, "order: expected asc or desc")
    flt = CaseFilter(
        outcome=_choice(outcome, OUTCOMES, "outcome"),
        segment=_choice(segment, tuple(s.value for s in Segment), "segment"),
        risk_level=_choice(risk_level, RISK_LEVELS, "risk_level"),
        awaiting_review=_flag(awaiting_review, "awaiting_review"),
        source_unavailable=_flag(source_unavailable, "source_unavailable"),
        flagged=_flag(flagged, "flagged"),
        date_from=_day(date_from, "date_from"),
        date_to=_day(date_to, "date_to"),
    )
    raw = {k: v for k, v in {
        "outcome": outcome, "segment": segment, "risk_level": risk_level, "awaiting_review": awaiting_review,
        "source_unavailable": source_unavailable, "flagged": flagged, "date_from": date_from, "date_to": date_to,
    }.items() if v not in (None, "", "any")}
    return {"filter": flt, "sort": sort, "descending": order == "desc", "page": page, "page_size": page_size, "raw": raw}


def _page_json(result) -> dict[str, Any]:
    return {
        "total": result.total, "page": result.page, "page_size": result.page_size, "pages": result.pages,
        "sort": result.sort, "order": "desc" if result.descending else "asc", "cases": result.rows,
    }


def _source_budgets() -> dict[str, Any] | None:
    """Monthly budgets per source from the cost monitoring's `budget.yaml`; None where it is not installed."""
    try:
        from kyc_core.monitoring.config import load_budget

        loaded = load_budget()
    except (ImportError, OSError, ValueError):
        return None
    return {"version": loaded.config.version, "sources": dict(loaded.config.sources), "total": loaded.config.total}


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "") and "/api/" not in request.url.path


# --- the application ----------------------------------------------------------------------------------------


def create_app(config: WorkspaceConfig | None = None) -> FastAPI:
    """The workspace as a FastAPI app: the case and source pages need read access to `kyc_case_review`, the intake
    endpoint the right to start `kyc_onboarding` runs (Airflow's auth manager decides both)."""
    cfg = config or WorkspaceConfig()
    app = FastAPI(title="KYC workspace", docs_url=None, redoc_url=None, openapi_url=None)
    cases = APIRouter(dependencies=[Depends(_case_reader())])
    User = Annotated[Any, Depends(get_user)]

    @app.exception_handler(HTTPException)
    async def _refused(request: Request, exc: HTTPException):
        if _wants_html(request) and exc.status_code in (401, 403):
            login = f"{_ui_base()}/auth/login?next={quote(str(request.url), safe='')}"
            return TEMPLATES.TemplateResponse(
                request, "refused.html", {"status": exc.status_code, "login": login}, status_code=exc.status_code
            )
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=getattr(exc, "headers", None))

    def _viewed(case_id: str, user: Any, view: str) -> dict[str, Any]:
        """Load the case and record, in the same transaction, that this user was shown it."""
        try:
            with session_scope(cfg.database_url) as session:
                case = case_detail(session, case_id)
                record_case_view(session, decision_id=case["decision"]["id"], customer_id=case["customer"]["id"],
                                 viewer=_actor(user), view=view)
            return case
        except UserError as exc:
            raise HTTPException(404, str(exc)) from None

    def _cases(params: dict[str, Any]):
        with session_scope(cfg.database_url) as session:
            return list_cases(session, params["filter"], sort=params["sort"], descending=params["descending"],
                              page=params["page"], page_size=params["page_size"])

    @cases.get("/api/cases")
    def api_cases(params: Annotated[dict, Depends(_list_params)]) -> dict[str, Any]:
        """One page of cases as JSON (ids and references only)."""
        return _page_json(_cases(params))

    @cases.get("/cases", response_class=HTMLResponse)
    def cases_page(request: Request, user: User, params: Annotated[dict, Depends(_list_params)]):
        """The cases list with its filters."""
        result = _cases(params)

        def href(**changes: Any) -> str:
            query = {**params["raw"], "sort": params["sort"], "order": "desc" if params["descending"] else "asc",
                     "page": params["page"], "page_size": params["page_size"], **changes}
            return f"{URL_PREFIX}/cases?{urlencode(query)}"

        return TEMPLATES.TemplateResponse(request, "cases.html", {
            "result": result, "raw": params["raw"], "href": href, "user": user.get_name(), "prefix": URL_PREFIX,
            "outcomes": OUTCOMES, "risk_levels": RISK_LEVELS, "segments": [s.value for s in Segment],
            "links": _links(None), "ui": _ui_base(),
            "run_link": lambda run_id: _links(run_id).get("run_required_actions"),
        })

    @cases.get("/api/cases/{case_id}")
    def api_case(case_id: str, user: User) -> dict[str, Any]:
        """One case in full, as JSON; recorded as viewed."""
        case = _viewed(case_id, user, "api")
        return {**case, "links": _links(case["decision"]["run_id"])}

    @cases.get("/cases/{case_id}", response_class=HTMLResponse)
    def case_page(request: Request, case_id: str, user: User):
        """One case in full; recorded as viewed."""
        case = _viewed(case_id, user, "page")
        top = max([abs(f.get("contribution") or 0.0) for f in case["factors"]] + [0.0])
        return TEMPLATES.TemplateResponse(request, "case.html", {
            "case": case, "user": user.get_name(), "prefix": URL_PREFIX, "links": _links(case["decision"]["run_id"]),
            "factor_max": max(top, 0.35), "json": lambda v: json.dumps(v, indent=2, ensure_ascii=False, default=str),
        })

    @cases.get("/cases/{case_id}/export.json")
    def export_json(case_id: str, user: User) -> Response:
        """The case file as JSON (the same export as `kyc case export`); recorded as viewed."""
        case = _viewed(case_id, user, "export_json")
        body = {k: case[k] for k in ("customer", "decision", "hits", "timeline")}
        return Response(json.dumps(body, indent=2, ensure_ascii=False, default=str), media_type="application/json",
                        headers={"Content-Disposition": f'attachment; filename="case-{case["decision"]["id"]}.json"'})

    @cases.get("/cases/{case_id}/export.csv")
    def export_csv(case_id: str, user: User) -> Response:
        """The case file as CSV (the same export as `kyc case export`); recorded as viewed."""
        case = _viewed(case_id, user, "export_csv")
        return PlainTextResponse(render_csv(case), media_type="text/csv",
                                 headers={"Content-Disposition": f'attachment; filename="case-{case["decision"]["id"]}.csv"'})

    async def _health() -> dict[str, Any]:
        def read() -> dict[str, Any]:
            with session_scope(cfg.database_url) as session:
                calls = source_calls_summary(session)
                spend = spend_this_month(session)
                incidents = open_incidents(session)
                sla = sla_health(session)
            budgets = {}
            for segment in Segment:
                policy = load_policy(segment.value)
                paid = list(policy.spec.sources.optional_paid)
                budgets[segment.value] = {"budget_eur": policy.spec.cost.monthly_budget_eur, "sources": paid,
                                          "spent_eur": round(sum(spend.get(s, 0.0) for s in paid), 4)}
            return {"calls": calls, "spend": spend, "incidents": incidents, "sla": sla, "budgets": budgets,
                    "source_budgets": _source_budgets()}

        data = await run_in_threadpool(read)
        sources = sources_seen(data["calls"], data["spend"])
        breakers = await _breakers(sources)
        source_budgets = data["source_budgets"]
        return {
            "generated_at": datetime.now(UTC).isoformat(),
            "source_budgets": source_budgets,
            "breakers_shared": cfg.redis_url is not None,
            "sources": [
                {"source": s, "breaker": breakers.get(s), "spend_this_month_eur": data["spend"].get(s, 0.0),
                 "budget_eur": (source_budgets or {}).get("sources", {}).get(s),
                 **data["calls"].get(s, {"calls": 0, "failed": 0, "error_rate": None, "p95_ms": None, "hourly": []})}
                for s in sources
            ],
            "budgets": data["budgets"],
            "incidents": {"configured": data["incidents"] is not None, "open": data["incidents"] or []},
            "sla": {"configured": data["sla"] is not None, "rows": data["sla"] or []},
        }

    async def _breakers(sources: list[str]) -> dict[str, dict[str, Any]]:
        url = cfg.redis_url
        if not url:
            return {}
        backend = RedisBackend(url, cfg.key_prefix)
        now = _time.time()
        out = {}
        try:
            for source in sources:
                snap = await backend.breaker_snapshot(source)
                out[source] = {"state": snap.state, "failures": snap.failures,
                               "open_for_s": round(snap.open_until - now, 1) if snap.open_until and snap.open_until > now else None}
        except Exception as exc:  # noqa: BLE001 - Redis unreachable: say so rather than show a closed breaker
            return {s: {"state": "unknown", "error": type(exc).__name__} for s in sources}
        finally:
            await backend.aclose()
        return out

    @cases.get("/api/sources")
    async def api_sources() -> dict[str, Any]:
        """Breakers, last 24 h of calls, spend and incidents per source, as JSON."""
        return await _health()

    @cases.get("/sources", response_class=HTMLResponse)
    async def sources_page(request: Request, user: User):
        """Breakers, last 24 h of calls, spend and incidents per source."""
        return TEMPLATES.TemplateResponse(request, "sources.html", {
            "health": await _health(), "user": user.get_name(), "prefix": URL_PREFIX, "links": _links(None),
        })

    @app.post("/api/intake", status_code=201, dependencies=[Depends(requires_access_dag("POST", DagAccessEntity.RUN,
                                                                                          param_dag_id=DAG_ID))])
    async def intake(request: Request, user: User, response: Response) -> Any:
        """Validate a request, register its customers and start `kyc_onboarding` with their ids only.

        422 names every invalid field (nothing registered, no run, an `input_rejected` event). A retried
        submission of the same customers returns the run it started (200).
        """
        try:
            body = await request.json()
        except ValueError:
            raise HTTPException(400, "the body must be a JSON object: {\"customers\": [...]}") from None
        registered = await run_in_threadpool(_register_intake, body, _actor(user), request.headers.get("idempotency-key"))
        if "errors" in registered:
            return JSONResponse({"detail": "invalid onboarding request", "errors": registered["errors"]}, status_code=422)
        created = await run_in_threadpool(_trigger_by_reference, request, registered)
        response.status_code = 201 if created else 200
        return {"dag_id": DAG_ID, "dag_run_id": registered["run_id"], "customer_ids": registered["customer_ids"],
                "references": registered["references"], "created": created}

    def _register_intake(body: Any, actor: str, key: str | None) -> dict[str, Any]:
        """The request's customers registered (as every onboarding trigger registers them), or the fields refused."""
        from kyc_core.customers.intake import CUSTOMER_IDS, REJECTED_FIELDS, by_reference, intake_run_id
        from kyc_core.store import customers as customer_repo

        with session_scope(cfg.database_url) as session:
            registered = by_reference(session, body if isinstance(body, dict) else {"customers": body}, actor=actor)
            if REJECTED_FIELDS in registered:
                return {"errors": registered[REJECTED_FIELDS]}
            rows = [customer_repo.require(session, cid) for cid in registered[CUSTOMER_IDS]]
        ids = [row.id for row in rows]
        return {"customer_ids": ids, "references": [row.customer_ref for row in rows],
                "run_id": intake_run_id(ids, [row.input_hash for row in rows], key)}

    def _trigger_by_reference(request: Request, registered: dict[str, Any]) -> bool:
        """Start the run through Airflow's own REST API, as the caller (their token); False when it already exists."""
        import httpx

        token = request.headers.get("authorization") or (f"Bearer {request.cookies['_token']}" if "_token" in request.cookies else "")
        base = str(request.base_url).rstrip("/")
        answer = httpx.post(
            f"{base}/api/v2/dags/{DAG_ID}/dagRuns",
            json={"dag_run_id": registered["run_id"], "logical_date": None, "conf": {"customer_ids": registered["customer_ids"]}},
            headers={"Authorization": token}, timeout=30,
        )
        if answer.status_code == 409:
            return False
        if answer.status_code >= 400:
            detail = answer.json().get("detail") if answer.headers.get("content-type", "").startswith("application/json") else answer.text
            raise HTTPException(answer.status_code if answer.status_code < 500 else 502,
                                f"Airflow refused the run: {detail}")
        return True

    app.include_router(cases)
    return app
