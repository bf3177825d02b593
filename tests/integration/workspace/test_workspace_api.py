"""The workspace's pages and JSON: Airflow's login and DAG permission, filters and paging, the case page, the
`case_viewed` audit event, exports and source health."""

from __future__ import annotations

import csv
import io
import json

from kyc_core.store.audit import verify_chain
from kyc_core.store.db import session_scope
from kyc_core.store.models import AuditEvent
from sqlalchemy import func, select


def _endpoints(decision_id: str) -> list[str]:
    return [
        "/kyc/cases", "/kyc/api/cases", f"/kyc/cases/{decision_id}", f"/kyc/api/cases/{decision_id}",
        f"/kyc/cases/{decision_id}/export.json", f"/kyc/cases/{decision_id}/export.csv", "/kyc/sources", "/kyc/api/sources",
    ]


def _views(store: str) -> list[AuditEvent]:
    with session_scope(store) as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.event_type == "case_viewed").order_by(AuditEvent.seq)).all())


def test_anonymous_and_unauthorised_users_see_nothing(workspace, auth, cases, store):
    decision = cases["reject"]["decision_id"]
    outsider = {"Authorization": f"Bearer {auth('outsider', None)}"}
    for path in _endpoints(decision):
        anonymous = workspace.get(path)
        assert anonymous.status_code == 401, path
        assert cases["reject"]["name"] not in anonymous.text and decision not in anonymous.text
        forbidden = workspace.get(path, headers=outsider)
        assert forbidden.status_code == 403, path
        assert cases["reject"]["customer_id"] not in forbidden.text
        assert workspace.get(path, headers={"Authorization": "Bearer not-a-jwt"}).status_code in (401, 403), path
    # A browser without the login cookie gets a page pointing at Airflow's login, not the data.
    page = workspace.get("/kyc/cases", headers={"Accept": "text/html"})
    assert page.status_code == 401 and "/auth/login" in page.text
    assert _views(store) == []


def test_a_viewer_reads_through_the_ui_cookie(workspace, auth, cases):
    workspace.cookies.set("_token", auth("auditor", "viewer"))
    response = workspace.get("/kyc/api/cases")
    workspace.cookies.clear()
    assert response.status_code == 200
    assert response.json()["total"] == 4


def test_list_filters_sorts_and_pages_without_names(workspace, auth, cases):
    headers = {"Authorization": f"Bearer {auth('analyst1', 'user')}"}

    def get(**params):
        response = workspace.get("/kyc/api/cases", params=params, headers=headers)
        assert response.status_code == 200, response.text
        return response.json()

    everything = get()
    assert everything["total"] == 4
    assert {c["outcome"] for c in everything["cases"]} == {"approve", "reject", "edd_required", "review"}
    assert get(outcome="reject")["cases"][0]["customer_id"] == cases["reject"]["customer_id"]
    assert [c["customer_ref"] for c in get(source_unavailable="yes")["cases"]] == ["WS-ENT-OUTAGE"]
    assert get(source_unavailable="no")["total"] == 3
    # Every case the assessment sent to four-eyes review, except the reject the seed had two reviewers confirm.
    awaiting = sorted(c["ref"] for label, c in cases.items() if c["requires_review"] and label != "reject")
    assert "WS-PER-PEP" in awaiting
    assert sorted(c["customer_ref"] for c in get(awaiting_review="yes")["cases"]) == awaiting
    assert get(awaiting_review="no")["total"] == 4 - len(awaiting)
    assert [c["customer_ref"] for c in get(flagged="yes")["cases"]] == ["WS-ENT-OUTAGE"]
    assert get(segment="asset_mgmt")["total"] == 1
    assert get(risk_level=cases["reject"]["risk_level"], outcome="reject")["total"] == 1
    assert get(date_from="2000-01-01", date_to="2000-12-31")["total"] == 0
    scores = [c["score"] for c in get(sort="score", order="asc")["cases"]]
    assert scores == sorted(scores)
    first, second = get(sort="score", page_size=2, page=1), get(sort="score", page_size=2, page=2)
    assert first["pages"] == 2 and len(first["cases"]) == len(second["cases"]) == 2
    assert not {c["decision_id"] for c in first["cases"]} & {c["decision_id"] for c in second["cases"]}
    html = workspace.get("/kyc/cases", headers=headers).text
    for label in cases.values():
        assert label["name"] not in html and label["name"] not in json.dumps(everything)
        assert label["customer_id"] in html
    assert workspace.get("/kyc/api/cases", params={"outcome": "maybe"}, headers=headers).status_code == 400
    assert workspace.get("/kyc/api/cases", params={"sort": "name"}, headers=headers).status_code == 400
    assert workspace.get("/kyc/api/cases", params={"date_from": "yesterday"}, headers=headers).status_code == 400


def test_case_page_explains_the_reject_and_records_one_view(workspace, auth, cases, store):
    reject = cases["reject"]
    headers = {"Authorization": f"Bearer {auth('analyst1', 'user')}"}
    assert _views(store) == []
    page = workspace.get(f"/kyc/cases/{reject['decision_id']}", headers=headers)
    assert page.status_code == 200, page.text
    html = page.text
    assert reject["name"] in html
    assert 'class="factor-bar" data-factor="pep_sanctions"' in html
    assert "sanctions_match" in html and "Matcher feature" in html
    assert "listing confirmed by analyst1" in html and "listing confirmed by analyst2" in html
    assert "chain verified" in html
    views = _views(store)
    assert len(views) == 1
    assert (views[0].actor, views[0].customer_id, views[0].case_id) == ("user:analyst1", reject["customer_id"], reject["decision_id"])
    assert json.loads(views[0].payload) == {"decision_id": reject["decision_id"], "view": "page"}
    with session_scope(store) as s:
        assert verify_chain(s).ok


def test_case_json_has_hits_with_list_entries_and_features(workspace, auth, cases, store):
    headers = {"Authorization": f"Bearer {auth('analyst2', 'user')}"}
    body = workspace.get(f"/kyc/api/cases/{cases['reject']['customer_id']}", headers=headers).json()
    assert body["decision"]["outcome"] == "reject" and body["chain"]["ok"]
    assert {f["name"] for f in body["factors"]} == {"geography", "pep_sanctions", "activity", "structure"}
    assert body["hits"] and all(h["entry"] and h["entry"]["list_version"]["id"] for h in body["hits"])
    assert all(h["features"][0]["feature"] == "name" for h in body["hits"])
    assert [h["step"] for h in body["history"]] == ["proposal", "review 1", "review 2", "final"]
    assert body["registers"]["answers"] and any(a["used_by_decision"] for a in body["registers"]["answers"])
    assert "run_required_actions" in body["links"]
    assert len(_views(store)) == 1
    assert workspace.get("/kyc/api/cases/no-such-case", headers=headers).status_code == 404
    assert len(_views(store)) == 1


def test_the_case_page_shows_each_hits_analyst_judgement(workspace, auth, cases, store):
    from kyc_core.cases.judging import judge_entry
    from kyc_core.store.db import session_scope

    headers = {"Authorization": f"Bearer {auth('analyst1', 'user')}"}
    reject = cases["reject"]
    hits = workspace.get(f"/kyc/api/cases/{reject['decision_id']}", headers=headers).json()["hits"]
    assert all(h["judgement"] is None for h in hits)
    first = hits[0]
    with session_scope(store) as session:
        judge_entry(session, reject["customer_id"], f"{first['list']}:{first['entry_id']}", "true_match",
                    rationale="same person, same birth date", analyst="analyst1", subjects=[first["subject_key"]])
    judged = workspace.get(f"/kyc/api/cases/{reject['decision_id']}", headers=headers).json()["hits"][0]["judgement"]
    assert (judged["verdict"], judged["analyst"], judged["state"]) == ("true_match", "analyst1", "in_force")
    page = workspace.get(f"/kyc/cases/{reject['decision_id']}", headers=headers).text
    assert "true match</strong>" in page and "by analyst1" in page


def test_exports_match_the_case_file(workspace, auth, cases, store):
    headers = {"Authorization": f"Bearer {auth('analyst1', 'user')}"}
    decision = cases["reject"]["decision_id"]
    exported = workspace.get(f"/kyc/cases/{decision}/export.json", headers=headers)
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("application/json")
    body = exported.json()
    assert body["decision"]["id"] == decision and len(body["hits"]) == len(cases["reject"] and body["hits"])
    rows = list(csv.reader(io.StringIO(workspace.get(f"/kyc/cases/{decision}/export.csv", headers=headers).text)))
    assert rows[0][:4] == ["section", "seq", "timestamp", "code"]
    assert {"decision", "factor", "hit", "event"} <= {r[0] for r in rows[1:]}
    assert [json.loads(v.payload)["view"] for v in _views(store)] == ["export_json", "export_csv"]


def test_source_health_shows_the_ledger_spend_and_breakers(workspace, auth, cases, store):
    headers = {"Authorization": f"Bearer {auth('analyst1', 'user')}"}
    body = workspace.get("/kyc/api/sources", headers=headers).json()
    by_source = {s["source"]: s for s in body["sources"]}
    assert {"sirene", "rne", "rbe", "bodacc"} <= set(by_source)
    assert by_source["sirene"]["calls"] >= 3 and by_source["sirene"]["p95_ms"] is not None
    # The seeded outage customer met a failing RNE.
    assert by_source["rne"]["failed"] >= 1 and by_source["rne"]["error_rate"] > 0
    assert sum(s["spend_this_month_eur"] for s in body["sources"]) > 0
    assert body["breakers_shared"] and by_source["sirene"]["breaker"]["state"] == "closed"
    assert body["incidents"] == {"configured": True, "open": []}
    assert "No open incident" in workspace.get("/kyc/sources", headers=headers).text


def test_open_incidents_come_from_sla_monitoring_when_its_tables_exist(workspace, auth, store):
    from sqlalchemy import text

    headers = {"Authorization": f"Bearer {auth('analyst1', 'user')}"}
    insert = ("INSERT INTO source_incident (source, kind, status, severity, peak_severity, opened_at, resolved_at, reminders, detail) "
              "VALUES (:source, 'outage', :status, 'critical', 'critical', :opened, :resolved, 0, '{}')")
    with session_scope(store) as s:
        s.execute(text(insert), {"source": "rne", "status": "open", "opened": "2026-01-01 10:00:00", "resolved": None})
        s.execute(text(insert), {"source": "sirene", "status": "resolved", "opened": "2026-01-01 09:00:00",
                                 "resolved": "2026-01-01 09:30:00"})
    body = workspace.get("/kyc/api/sources", headers=headers).json()
    assert body["incidents"]["configured"] is True
    assert [(i["source"], i["status"]) for i in body["incidents"]["open"]] == [("rne", "open")]
    # A database without SLA monitoring: the page says so instead of "no incident".
    with session_scope(store) as s:
        for table in ("monitor_alert", "source_incident"):
            s.execute(text(f"DROP TABLE {table}"))
    body = workspace.get("/kyc/api/sources", headers=headers).json()
    assert body["incidents"] == {"configured": False, "open": []}
    assert "Not configured" in workspace.get("/kyc/sources", headers=headers).text


def test_the_plugin_is_mounted_by_airflow_and_protected(airflow_db, monkeypatch, store):
    from airflow import plugins_manager
    from airflow.api_fastapi.app import create_app, purge_cached_app
    from fastapi.testclient import TestClient

    monkeypatch.setenv("AIRFLOW_CONN_KYC_DB", json.dumps({"conn_type": "kyc_database", "extra": {"url": store}}))
    apps, _ = plugins_manager.get_fastapi_plugins()
    assert [a["url_prefix"] for a in apps if a["name"] == "KYC workspace"] == ["/kyc"]
    plugin = next(p for p in plugins_manager._get_plugins()[0] if p.name == "kyc_workspace")
    assert {v["href"] for v in plugin.external_views} == {"/kyc/cases", "/kyc/sources"}
    try:
        with TestClient(create_app(apps="core")) as client:
            assert client.get("/kyc/api/cases").status_code == 401
            from airflow.api_fastapi.app import get_auth_manager
            from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

            token = get_auth_manager().generate_jwt(SimpleAuthManagerUser(username="admin", role="admin"))
            assert client.get("/kyc/api/cases", headers={"Authorization": f"Bearer {token}"}).json()["total"] == 0
    finally:
        purge_cached_app()
    with session_scope(store) as s:
        assert s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.event_type == "case_viewed")) == 0


def test_an_outage_shows_the_source_down(workspace, auth, store, emulator, redis_url):
    from seeding import open_breaker_by_outage

    open_breaker_by_outage(store, emulator, *redis_url)
    headers = {"Authorization": f"Bearer {auth('analyst1', 'user')}"}
    by_source = {s["source"]: s for s in workspace.get("/kyc/api/sources", headers=headers).json()["sources"]}
    assert by_source["rne"]["breaker"]["state"] == "open" and by_source["rne"]["breaker"]["open_for_s"] > 0
    assert by_source["rne"]["error_rate"] == 1.0
    assert by_source["sirene"]["breaker"]["state"] == "closed"
    assert 'data-source="rne"' in (html := workspace.get("/kyc/sources", headers=headers).text)
    assert '<span class="badge open">open</span>' in html


def test_an_edited_event_shows_the_chain_broken(workspace, auth, cases, store):
    from sqlalchemy import text

    customer = cases["reject"]["customer_id"]
    # Someone with the database owner's rights disables the guard and rewrites a review's rationale.
    with session_scope(store) as s:
        if s.get_bind().dialect.name == "postgresql":
            s.execute(text("ALTER TABLE audit_event DISABLE TRIGGER audit_event_no_update_delete"))
        else:
            s.execute(text("DROP TRIGGER audit_event_no_update"))
        s.execute(text("UPDATE audit_event SET payload = replace(payload, 'listing confirmed by analyst1', 'no match') "
                       "WHERE customer_id = :c AND event_type = 'human_review'"), {"c": customer})
    headers = {"Authorization": f"Bearer {auth('analyst1', 'user')}"}
    body = workspace.get(f"/kyc/api/cases/{customer}", headers=headers).json()
    assert body["chain"]["ok"] is False and "human_review" in body["chain"]["problem"]
    assert "chain broken" in workspace.get(f"/kyc/cases/{customer}", headers=headers).text
    clean = workspace.get(f"/kyc/api/cases/{cases['approve']['customer_id']}", headers=headers).json()
    assert clean["chain"]["ok"] is True
