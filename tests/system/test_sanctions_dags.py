"""`kyc_sanctions_refresh` and `kyc_sanctions_delta_screening` run end to end in Airflow against the emulator.

`dag.test()` runs one DAG and does not schedule the DAGs an asset event would trigger, so the test reads
the event the refresh emitted from Airflow's metadata database and hands its extra to the screening run
the way a manual run receives it (conf `version_ids`).
"""

from __future__ import annotations

import json

import pytest
from kyc_core.countries import iso2
from kyc_core.customers.registration import register_customer
from kyc_core.customers.request import DeclaredPerson, EntityCustomer, OnboardingCustomer
from kyc_core.store import migrate
from kyc_core.store.db import session_scope
from kyc_core.store.models import AuditEvent, Customer, ListVersion, ScreeningHit, SourceCall
from kyc_dev.emulator import EmulatorConfig, start_emulator_in_thread
from sqlalchemy import func, select

ASSET_URI = "kyc://sanctions/active-lists"


@pytest.fixture
def emulator():
    with start_emulator_in_thread(config=EmulatorConfig(companies=300, quotas={})) as running:
        yield running


@pytest.fixture
def dags(airflow_db, db_url, emulator, monkeypatch):
    from airflow.dag_processing.dagbag import DagBag

    migrate.upgrade(db_url)
    monkeypatch.delenv("KYC_REDIS_URL", raising=False)
    monkeypatch.setenv(
        "AIRFLOW_CONN_KYC_DB", json.dumps({"conn_type": "kyc_database", "extra": {"url": db_url}})
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_KYC_SANCTIONS_LISTS",
        json.dumps({"conn_type": "sanctions_list", "host": emulator.root + "/lists"}),
    )
    bag = DagBag(dag_folder="dags")
    return bag.dags["kyc_sanctions_refresh"], bag.dags["kyc_sanctions_delta_screening"], db_url


@pytest.fixture
def compliance_mail(tmp_path, monkeypatch):
    """A real SMTP sink behind the `kyc_smtp` connection; the directory its messages land in."""
    import socket

    from kyc_dev.mailsink import start_mailsink

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    sink = start_mailsink(tmp_path / "mail", port=port)
    monkeypatch.setenv("AIRFLOW_CONN_KYC_SMTP", json.dumps(
        {"conn_type": "smtp", "host": "127.0.0.1", "port": port, "extra": {"disable_tls": True, "disable_ssl": True}}
    ))
    yield tmp_path / "mail"
    sink.stop()


def _register(url: str, company) -> str:
    people = [o.person for o in company.officers if o.person is not None]
    item = OnboardingCustomer(
        customer=EntityCustomer(
            siren=company.siren,
            declared_name=company.name,
            declared_officers=[
                DeclaredPerson(
                    name=" ".join([*p.first_names, p.last_name]),
                    birth_month=p.birth_ym,
                    nationality=iso2(p.nationality_code),
                )
                for p in people
            ],
        ),
        segment="fintech",
    )
    with session_scope(url) as session:
        return register_customer(session, item, actor="test", run_id=None).customer_id


def _states(run) -> dict[str, str]:
    return {f"{ti.task_id}[{ti.map_index}]": ti.state for ti in run.get_task_instances()}


def _asset_events() -> list[dict]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.execute(
            select(AssetEvent.extra, AssetEvent.source_dag_id)
            .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .where(AssetModel.uri == ASSET_URI)
            .order_by(AssetEvent.id)
        ).all()
    return [extra for extra, dag_id in rows if dag_id == "kyc_sanctions_refresh"]


def _xcom(run, task_id: str):
    return next(ti for ti in run.get_task_instances() if ti.task_id == task_id).xcom_pull(task_ids=task_id)


def test_refresh_then_delta_screening_flags_the_new_designations(dags, emulator, compliance_mail):
    refresh, screening, url = dags
    dataset = emulator.state.dataset
    new = [p for p in dataset.known_positives(version=2) if p.version == 2]
    expected = {_register(url, dataset.company(p.siren)) for p in new if p.role == "officer"}
    _register(url, dataset.company_at(120))
    events_before = len(_asset_events())

    run = refresh.test()
    states = _states(run)
    assert run.state == "success", states
    assert [states[f"refresh_list[{i}]"] for i in range(3)] == ["success"] * 3
    assert (states["publish_changes[-1]"], states["report_failed_lists[-1]"]) == ("success", "skipped")
    events = _asset_events()[events_before:]
    assert len(events) == 1 and sorted(events[0]["lists"]) == ["eu_fsf", "ofac_sdn", "un_sc"]
    first_ids = events[0]["version_ids"]

    # Nothing changed upstream: no new version, no event.
    again = refresh.test()
    assert again.state == "success" and _states(again)["publish_changes[-1]"] == "skipped"
    assert len(_asset_events()) == events_before + 1

    emulator.state.list_version = 2
    assert refresh.test().state == "success"
    event = _asset_events()[-1]
    assert {k: (v["added"], v["changed"], v["removed"]) for k, v in event["lists"].items()} == {
        "ofac_sdn": (3, 2, 1),
        "un_sc": (4, 2, 1),
        "eu_fsf": (4, 2, 1),
    }
    with session_scope(url) as session:
        assert session.scalar(select(func.count()).select_from(ListVersion)) == 6
        # Three runs, five files each, every one downloaded live.
        assert (
            session.scalar(select(func.count()).select_from(SourceCall).where(SourceCall.outcome == "ok"))
            == 15
        )

    screened = screening.test(run_conf={"version_ids": event["version_ids"]})
    assert screened.state == "success", _states(screened)
    # Version 1 was never screened (its event had no consumer here): it is caught up in the same run.
    assert _xcom(screened, "versions_to_screen") == sorted(first_ids + event["version_ids"])
    summary = _xcom(screened, "screen_delta")
    assert summary["customers_flagged"] == len(expected) == 2
    with session_scope(url) as session:
        flagged = set(session.scalars(select(Customer.id).where(Customer.flagged_for_review.is_(True))))
        hits = session.scalar(select(func.count()).select_from(ScreeningHit))
        audit = session.scalar(select(func.count()).select_from(AuditEvent))
    assert flagged == expected
    assert summary["new_hits"] == hits >= 1
    # One compliance e-mail for the run, listing the flagged customers by id with their hit counts.
    from kyc_dev.mailsink import read_messages

    [mail] = read_messages(compliance_mail)
    assert " ".join(str(mail["Subject"]).split()) == f"[KYC] sanctions delta screening: 2 customer(s) flagged, {hits} new hit(s)"
    text = next(p for p in mail.walk() if p.get_content_type() == "text/plain").get_payload(decode=True).decode()
    assert all(cid in text for cid in expected)

    # A second screening run of the same event writes nothing.
    rerun = screening.test(run_conf={"version_ids": event["version_ids"]})
    assert rerun.state == "success"
    assert _xcom(rerun, "screen_delta")["new_hits"] == 0
    with session_scope(url) as session:
        assert session.scalar(select(func.count()).select_from(ScreeningHit)) == hits
        assert session.scalar(select(func.count()).select_from(AuditEvent)) == audit
    assert len(read_messages(compliance_mail)) == 1


def test_a_refused_list_fails_the_run_while_the_other_lists_are_published(dags, emulator):
    from kyc_dev.emulator.faults import FaultSpec

    refresh, _screening, url = dags
    assert refresh.test().state == "success"
    emulator.state.list_version = 2
    emulator.state.faults.set("un", FaultSpec(truncate_rate=1.0, truncate_mode="body"))
    events_before = len(_asset_events())

    run = refresh.test()
    states = _states(run)
    assert run.state == "failed"
    assert sorted(states[f"refresh_list[{i}]"] for i in range(3)) == ["failed", "success", "success"]
    assert (states["publish_changes[-1]"], states["report_failed_lists[-1]"]) == ("success", "failed")
    events = _asset_events()[events_before:]
    assert len(events) == 1 and sorted(events[0]["lists"]) == ["eu_fsf", "ofac_sdn"]
    with session_scope(url) as session:
        statuses = {
            (v.list_key, v.status)
            for v in session.scalars(select(ListVersion).where(ListVersion.list_key == "un_sc"))
        }
    assert statuses == {("un_sc", "active"), ("un_sc", "refused")}


def test_versions_to_screen_reads_the_triggering_events_extra(dags):
    from datetime import UTC, datetime

    from airflow.sdk.api.datamodels._generated import AssetReferenceAssetEventDagRun
    from airflow.sdk.exceptions import AirflowFailException
    from airflow.sdk.execution_time.comms import AssetEventDagRunReferenceResult
    from airflow.sdk.execution_time.context import TriggeringAssetEventsAccessor
    from kyc_airflow.tasks.sanctions import ACTIVE_LISTS_ASSET, versions_to_screen
    from kyc_core.rescreen.delta import delta_rescreen

    refresh, _screening, url = dags
    assert refresh.test().state == "success"
    # Every version screened once already: only what the events name is left to screen.
    delta_rescreen(url, [1, 2, 3], actor="test")

    def accessor(*extras: dict) -> TriggeringAssetEventsAccessor:
        asset = AssetReferenceAssetEventDagRun(
            name=ACTIVE_LISTS_ASSET.name, uri=ACTIVE_LISTS_ASSET.uri, extra={}
        )
        return TriggeringAssetEventsAccessor.build(
            AssetEventDagRunReferenceResult(
                asset=asset, extra=extra, source_task_id="publish_changes", source_dag_id="kyc_sanctions_refresh",
                source_run_id="r", source_map_index=-1, source_aliases=[], timestamp=datetime.now(UTC),
            )
            for extra in extras
        )  # fmt: skip

    # Two refreshes queued before the screening ran: both events arrive in one run.
    two = accessor(
        {"version_ids": [1], "lists": {}}, {"version_ids": [], "lists": {"eu_fsf": {"version_id": 3}}}
    )
    assert versions_to_screen({"triggering_asset_events": two}) == [1, 3]
    assert versions_to_screen({"triggering_asset_events": accessor()}, requested=[2]) == [2]
    with pytest.raises(AirflowFailException, match=r"unknown list version\(s\): \[99\]"):
        versions_to_screen({"triggering_asset_events": accessor({"version_ids": [99]})})


def _serve(directory):
    """A plain HTTP server over `directory` (a publisher serving what it was given), on an ephemeral port."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(directory))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _answer_when_asked(dag_id: str, task_id: str, choice: str, rationale: str, user: str, timeout: float = 300.0):
    """Wait until the human-in-the-loop task parks, then answer it as the REST API's PATCH does."""
    import time

    from airflow.models.hitl import HITLDetail
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.trigger import handle_event_submit
    from airflow.sdk import timezone
    from airflow.triggers.base import TriggerEvent
    from airflow.utils.session import create_session
    from airflow.utils.state import TaskInstanceState

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with create_session() as session:
            ti = session.scalars(
                select(TaskInstance).where(
                    TaskInstance.dag_id == dag_id,
                    TaskInstance.task_id == task_id,
                    TaskInstance.state == TaskInstanceState.AWAITING_INPUT,
                )
            ).first()
            if ti is not None:
                detail = session.scalars(select(HITLDetail).where(HITLDetail.ti_id == ti.id)).one()
                asked = (detail.subject, list(detail.options))
                detail.responded_by = {"id": user, "name": user}
                detail.responded_at = timezone.utcnow()
                detail.chosen_options = [choice]
                detail.params_input = {"rationale": rationale}
                session.add(detail)
                handle_event_submit(TriggerEvent(detail.as_resume_event_payload()), task_instance=ti, session=session)
                return asked
        time.sleep(1)
    raise AssertionError(f"{dag_id}.{task_id} never asked")


def _cut_ofac(emulator, directory, drop: int):
    """The emulator's OFAC CSV trio with `drop` designations cut out of sdn.csv and its end byte kept."""
    import urllib.request

    base = emulator.root + "/lists/ofac/api/PublicationPreview/exports/"
    directory.mkdir()
    for name in ("SDN.CSV", "ADD.CSV", "ALT.CSV"):
        with urllib.request.urlopen(base + name) as response:
            (directory / name.lower()).write_bytes(response.read())
    lines = (directory / "sdn.csv").read_bytes().rstrip(b"\x1a\r\n").split(b"\r\n")
    (directory / "sdn.csv").write_bytes(b"\r\n".join(lines[drop:]) + b"\r\n\x1a")


@pytest.mark.parametrize(("choice", "status"), [("Approve", "active"), ("Reject", "rejected")])
def test_a_quarantined_list_waits_for_a_person_in_the_refresh_run(
    dags, emulator, compliance_mail, tmp_path, monkeypatch, choice, status
):
    import threading

    refresh, _screening, url = dags
    first = refresh.test()
    states = _states(first)
    assert first.state == "success", states
    # Nothing quarantined: the question is never asked.
    assert (states["review_quarantine[-1]"], states["publish_approved[-1]"]) == ("skipped", "skipped")
    with session_scope(url) as session:
        active_before = session.scalars(
            select(ListVersion.id).where(ListVersion.list_key == "ofac_sdn", ListVersion.status == "active")
        ).one()

    # The publisher serves a file with five designations cut out (about 1.6 % of them), end byte re-added.
    _cut_ofac(emulator, tmp_path / "ofac", drop=5)
    server = _serve(tmp_path / "ofac")
    files = {name: f"http://127.0.0.1:{server.server_address[1]}/{name}" for name in ("sdn.csv", "add.csv", "alt.csv")}
    monkeypatch.setenv("AIRFLOW_CONN_KYC_SANCTIONS_LISTS", json.dumps(
        {"conn_type": "sanctions_list", "host": emulator.root + "/lists",
         "extra": {"enabled": ["ofac_sdn"], "lists": {"ofac_sdn": files}}}
    ))
    events_before = len(_asset_events())
    asked = {}
    # dag.test() must run in the main thread; the person answers from another one once the task parks.
    person = threading.Thread(target=lambda: asked.update(form=_answer_when_asked(
        "kyc_sanctions_refresh", "review_quarantine", choice, "checked against the publisher notice", "compliance1",
    )), daemon=True)
    person.start()
    try:
        run = refresh.test()
    finally:
        server.shutdown()
    person.join(timeout=10)
    subject, options = asked["form"]
    states = _states(run)
    assert run.state == "success", states
    assert options == ["Approve", "Reject"] and subject.endswith("quarantined: 5 entries removed")
    with session_scope(url) as session:
        [held] = session.scalars(
            select(ListVersion).where(ListVersion.list_key == "ofac_sdn", ListVersion.id > active_before)
        ).all()
        active_now = session.scalars(
            select(ListVersion.id).where(ListVersion.list_key == "ofac_sdn", ListVersion.status == "active")
        ).one()
        decided = session.scalars(
            select(AuditEvent).where(AuditEvent.event_type == f"list_version_{'approved' if choice == 'Approve' else 'rejected'}")
        ).one()
        quarantined = session.scalars(
            select(AuditEvent).where(AuditEvent.event_type == "list_version_quarantined")
        ).one()
    assert (held.status, held.delta_removed) == (status, 5)
    assert json.loads(quarantined.payload)["version_id"] == held.id
    assert decided.actor == "user:compliance1" and json.loads(decided.payload)["rationale"].startswith("checked")
    events = _asset_events()[events_before:]
    if choice == "Approve":
        assert active_now == held.id
        assert states["publish_approved[-1]"] == "success"
        assert [e["version_ids"] for e in events] == [[held.id]]
    else:
        assert active_now == active_before
        assert states["publish_approved[-1]"] == "skipped" and events == []
    from kyc_dev.mailsink import read_messages

    assert any("quarantined: 5 entries removed" in " ".join(str(m["Subject"]).split()) for m in read_messages(compliance_mail))
