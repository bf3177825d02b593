"""The KYC workspace in a real browser (Chromium through selenium) against a live Airflow api-server.

The api-server runs on a free loopback port with the SimpleAuthManager; the KYC database (PostgreSQL) holds
real cases assessed by the core against the emulator. Screenshots land in `.artifacts/screenshots/`.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "integration" / "workspace"))
from seeding import open_breaker_by_outage, seed_cases  # noqa: E402

ARTIFACTS = REPO / ".artifacts" / "screenshots"
CHROMIUM = os.environ.get("KYC_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("KYC_CHROMEDRIVER", "/usr/bin/chromedriver")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
USERS = {"admin": "admin", "analyst1": "analyst1", "outsider": "outsider"}
# The plugin reads breakers under the production key prefix: a Redis database of its own keeps them apart.
REDIS_DB_URL = os.environ.get("KYC_TEST_WORKSPACE_REDIS_URL", "redis://127.0.0.1:6379/7")

pytestmark = pytest.mark.airflow_live


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _browser_missing() -> str | None:
    for path in (CHROMIUM, CHROMEDRIVER):
        if not Path(path).exists():
            return f"{path} is missing (apt-get install -y chromium chromium-driver)"
    return None


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium; missing it fails under CI and skips locally."""
    missing = _browser_missing()
    if missing:
        if IN_CI:
            pytest.fail(f"browser tests need Chromium: {missing}", pytrace=False)
        pytest.skip(missing)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--window-size=1440,1800", "--disable-dev-shm-usage"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def redis_db():
    """A Redis database for the plugin's breaker keys; emptied of them afterwards."""
    import redis

    client = redis.Redis.from_url(REDIS_DB_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except Exception as exc:  # noqa: BLE001
        if IN_CI:
            pytest.fail(f"Redis at {REDIS_DB_URL} unavailable: {exc}", pytrace=False)
        pytest.skip(f"Redis at {REDIS_DB_URL} unavailable")

    def clean() -> None:
        for key in client.scan_iter(match="kyc:*", count=1000):
            client.delete(key)

    clean()
    yield REDIS_DB_URL
    clean()
    client.close()


@pytest.fixture(scope="module")
def live(tmp_path_factory, pg_admin_url, redis_db):
    """A migrated KYC database with real cases, the emulator, and Airflow's api-server with the plugin."""
    import psycopg
    from kyc_core.store.migrate import upgrade
    from kyc_dev.emulator import EmulatorConfig, start_emulator_in_thread

    home = tmp_path_factory.mktemp("workspace-airflow")
    name = f"kyc_ws_{secrets.token_hex(5)}"
    plain = pg_admin_url.replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    store = pg_admin_url.rsplit("/", 1)[0] + "/" + name
    upgrade(store)
    port = _free_port()
    (home / "passwords.json").write_text(json.dumps(USERS))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "KYC_"))}
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_FOLDER=str(REPO / "dags"),
        AIRFLOW__CORE__PLUGINS_FOLDER=str(home / "plugins"),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home / 'airflow.db'}",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="admin:admin,analyst1:user,outsider:",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=str(home / "passwords.json"),
        AIRFLOW__API__HOST="127.0.0.1",
        AIRFLOW__API__PORT=str(port),
        AIRFLOW__API__BASE_URL=f"http://127.0.0.1:{port}",
        AIRFLOW__API_AUTH__JWT_SECRET=secrets.token_urlsafe(64),
        AIRFLOW_CONN_KYC_DB=json.dumps({"conn_type": "kyc_database", "extra": {"url": store}}),
        KYC_REDIS_URL=redis_db,
    )
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    airflow = str(Path(sys.executable).parent / "airflow")
    log = home / "api-server.log"
    subprocess.run([airflow, "db", "migrate"], env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    # The DAGs in the metadata database, as a dag-processor would leave them: the trigger form needs them.
    subprocess.run([airflow, "dags", "reserialize"], env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    with start_emulator_in_thread(config=EmulatorConfig(companies=300, quotas={})) as emulator:
        _load_lists(store, emulator)
        cases = seed_cases(store, emulator)
        with open(log, "ab") as out:
            server = subprocess.Popen([airflow, "api-server"], env=env, stdout=out, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, start_new_session=True, cwd=REPO)
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_up(base, server, log)
            yield {"base": base, "cases": cases, "store": store, "emulator": emulator, "redis": redis_db}
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
            from kyc_core.store.db import dispose_engines

            dispose_engines()
            with psycopg.connect(plain, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _load_lists(store: str, emulator) -> None:
    from kyc_core.lists.refresh import refresh_list
    from kyc_core.lists.sources import DEFAULT_LIST_KEYS, resolve_source
    from kyc_core.resilience import CallLedger, MemoryBackend, SourceGuard, load_source_config

    backend = MemoryBackend()
    for key in DEFAULT_LIST_KEYS:
        src = resolve_source(key, emulator.root + "/lists")
        guard = SourceGuard(src.source, backend=backend, config=load_source_config(src.source, {"*": {"retry_initial_s": 0.01}}),
                            ledger=CallLedger(store))
        assert refresh_list(src, database_url=store, guard=guard, actor="test").status == "activated"


def _wait_up(base: str, server: subprocess.Popen, log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError("api-server exited:\n" + log.read_text()[-3000:])
        try:
            with urllib.request.urlopen(base + "/api/v2/version", timeout=3) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(1)
    raise AssertionError("api-server not up:\n" + log.read_text()[-3000:])


def _shot(driver, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


def _login(driver, base: str, user: str, next_path: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    driver.delete_all_cookies()
    driver.get(f"{base}/auth/login?next={urllib.request.quote(base + next_path, safe='')}")
    wait = WebDriverWait(driver, 30)
    wait.until(ec.presence_of_element_located((By.NAME, "username"))).send_keys(user)
    driver.find_element(By.NAME, "password").send_keys(USERS[user])
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait.until(lambda d: d.get_cookie("_token") is not None)


def _status(url: str, token: str | None = None) -> int:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_anonymous_and_unauthorised_are_refused(live, browser):
    from selenium.webdriver.common.by import By

    base, reject = live["base"], live["cases"]["reject"]
    paths = ["/kyc/cases", "/kyc/api/cases", f"/kyc/cases/{reject['decision_id']}", f"/kyc/api/cases/{reject['decision_id']}",
             f"/kyc/cases/{reject['decision_id']}/export.json", f"/kyc/cases/{reject['decision_id']}/export.csv",
             "/kyc/sources", "/kyc/api/sources"]
    assert [_status(base + p) for p in paths] == [401] * len(paths)
    browser.delete_all_cookies()
    browser.get(f"{base}/kyc/cases/{reject['decision_id']}")
    assert "Sign in to Airflow first" in browser.find_element(By.TAG_NAME, "body").text
    assert reject["name"] not in browser.page_source and reject["customer_id"] not in browser.page_source
    _shot(browser, "anonymous-refused")
    # Logged in through the same form, but without the right to read the DAG: nothing either.
    _login(browser, base, "outsider", "/kyc/cases")
    browser.get(f"{base}/kyc/cases")
    assert "Not allowed" in browser.page_source and reject["customer_id"] not in browser.page_source


def test_login_list_filter_and_reject_case(live, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select, WebDriverWait

    base, cases = live["base"], live["cases"]
    _login(browser, base, "analyst1", "/kyc/cases")
    browser.get(f"{base}/kyc/cases")
    rows = browser.find_elements(By.CSS_SELECTOR, "#cases tbody tr[data-outcome]")
    assert {r.get_attribute("data-outcome") for r in rows} == {"approve", "reject", "edd_required", "review"}
    assert all(c["name"] not in browser.page_source for c in cases.values())
    _shot(browser, "cases-list")

    Select(browser.find_element(By.ID, "f-outcome")).select_by_value("reject")
    table = browser.find_element(By.ID, "cases")
    browser.find_element(By.ID, "apply").click()
    wait = WebDriverWait(browser, 30)
    wait.until(ec.staleness_of(table))
    rows = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#cases tbody tr[data-outcome]"))
    assert [r.get_attribute("data-customer") for r in rows] == [cases["reject"]["customer_id"]]
    assert browser.find_element(By.ID, "total").text == "1 case"
    _shot(browser, "cases-filtered-reject")

    rows[0].find_element(By.CSS_SELECTOR, "a.case-link").click()
    assert cases["reject"]["name"] in wait.until(lambda d: d.find_element(By.ID, "case-title")).text
    bars = {b.get_attribute("data-factor"): float(b.get_attribute("width"))
            for b in browser.find_elements(By.CSS_SELECTOR, "#factor-chart rect.factor-bar")}
    assert set(bars) == {"geography", "pep_sanctions", "activity", "structure"} and bars["pep_sanctions"] > 100
    hits = browser.find_elements(By.CSS_SELECTOR, ".hit")
    assert hits, "no hit shown"
    first = hits[0]
    assert "List entry" in first.text and "Programmes" in first.text
    features = [r.find_elements(By.TAG_NAME, "td")[0].text for r in first.find_elements(By.CSS_SELECTOR, "tr.feature")]
    assert features[0] == "name"
    assert "chain verified" in browser.find_element(By.ID, "chain").text
    assert "listing confirmed by analyst2" in browser.find_element(By.ID, "history").text
    _shot(browser, "case-reject")

    from kyc_core.store.db import session_scope
    from kyc_core.store.models import AuditEvent
    from sqlalchemy import select

    with session_scope(live["store"]) as s:
        views = s.scalars(select(AuditEvent).where(AuditEvent.event_type == "case_viewed")).all()
        assert [(v.actor, v.customer_id) for v in views] == [("user:analyst1", cases["reject"]["customer_id"])]


def test_source_health_during_an_outage(live, browser):
    from selenium.webdriver.common.by import By

    base = live["base"]
    open_breaker_by_outage(live["store"], live["emulator"], live["redis"], "kyc:")
    _login(browser, base, "analyst1", "/kyc/sources")
    browser.get(f"{base}/kyc/sources")
    row = browser.find_element(By.CSS_SELECTOR, '#sources tr[data-source="rne"]')
    assert row.find_element(By.CSS_SELECTOR, "td.breaker .badge").text == "open"
    sirene = browser.find_element(By.CSS_SELECTOR, '#sources tr[data-source="sirene"]')
    assert sirene.find_element(By.CSS_SELECTOR, "td.breaker .badge").text == "closed"
    _shot(browser, "source-health-outage")


def test_workspace_is_in_airflow_navigation(live, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    base = live["base"]
    _login(browser, base, "admin", "/plugin/kyc-cases")
    browser.get(f"{base}/plugin/kyc-cases")
    frame = WebDriverWait(browser, 30).until(lambda d: d.find_element(By.TAG_NAME, "iframe"))
    assert frame.get_attribute("src").endswith("/kyc/cases")
    browser.switch_to.frame(frame)
    WebDriverWait(browser, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#cases tbody tr[data-outcome]"))
    browser.switch_to.default_content()
    _shot(browser, "airflow-nav-cases")


def _token(base: str, user: str) -> str:
    request = urllib.request.Request(f"{base}/auth/token", method="POST", headers={"Content-Type": "application/json"},
                                     data=json.dumps({"username": user, "password": USERS[user]}).encode())
    with urllib.request.urlopen(request, timeout=15) as response:
        return json.loads(response.read())["access_token"]


def test_trigger_form_for_one_company_starts_a_run(live, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    base = live["base"]
    siren, name = "798550281", "SIMON TRANSPORTS"
    _login(browser, base, "admin", "/dags/kyc_onboarding")
    wait = WebDriverWait(browser, 60)
    wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "button[aria-label='Trigger Dag']")).click()
    # Real controls: a dropdown for the kind, text fields for the SIREN and the name.
    kind = wait.until(lambda d: d.find_element(
        By.XPATH, "//input[@name='element_kind']/ancestor::div[@role='group'][1]//input[@role='combobox']"))
    kind.send_keys("entity")
    kind.send_keys(Keys.ENTER)
    browser.find_element(By.ID, "element_siren").send_keys(siren)
    browser.find_element(By.ID, "element_name").send_keys(name)
    assert browser.find_element(By.NAME, "element_kind").get_attribute("value") == "entity"
    assert browser.find_element(By.ID, "element_birth_date").get_attribute("type") == "date"
    _shot(browser, "trigger-form")
    browser.find_element(By.CSS_SELECTOR, "button[data-testid='trigger-dag-submit']").click()
    token = _token(base, "admin")
    runs: list = []
    deadline = time.monotonic() + 60
    while not runs and time.monotonic() < deadline:
        request = urllib.request.Request(f"{base}/api/v2/dags/kyc_onboarding/dagRuns", headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(request, timeout=15) as response:
            runs = json.loads(response.read())["dag_runs"]
        time.sleep(1)
    assert len(runs) == 1, runs
    # The api-server registered the customer in the KYC database: the run keeps its id, never the form's fields.
    conf = runs[0]["conf"]
    assert list(conf) == ["customer_ids"] and name not in json.dumps(conf), conf
    from kyc_core.customers.request import OnboardingCustomer
    from kyc_core.store.db import session_scope
    from kyc_core.store.models import Customer

    with session_scope(live["store"]) as session:
        item = OnboardingCustomer.model_validate(session.get(Customer, conf["customer_ids"][0]).profile)
    assert (item.customer.siren, item.customer.declared_name, item.channel, item.segment.value) == (siren, name, "ui", "cgp")
    # Nor does the trigger's entry in Airflow's audit log (readable by reviewers through /api/v2/eventLogs).
    request = urllib.request.Request(f"{base}/api/v2/eventLogs?dag_id=kyc_onboarding&limit=100",
                                     headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=15) as response:
        logged = json.loads(response.read())["event_logs"]
    assert logged and all(name not in json.dumps(entry) for entry in logged)


def test_intake_endpoint_registers_and_triggers_by_reference(live):
    """Integrators' intake: 422 names the fields (no run), 201 starts a run holding ids only, a retry answers 200."""
    base = live["base"]
    token = _token(base, "admin")

    def post(body: object, key: str | None = None) -> tuple[int, dict]:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                   **({"Idempotency-Key": key} if key else {})}
        request = urllib.request.Request(f"{base}/kyc/api/intake", method="POST", headers=headers, data=json.dumps(body).encode())
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")

    person = {"customer": {"kind": "person", "name": "Intake Person", "birth_date": "1980-02-29", "nationality": "FR",
                           "residence_country": "FR"}, "segment": "fintech", "external_ref": "INTAKE-1"}
    bad = {"customers": [{**person, "customer": {**person["customer"], "birth_date": "29/02/1980"}}]}
    status, body = post(bad)
    assert status == 422 and any("birth_date" in e["field"] for e in body["errors"]) and "29/02/1980" not in json.dumps(body)
    status, created = post({"customers": [person]}, key="intake-test-1")
    assert status == 201, created
    assert created["references"] == ["INTAKE-1"] and created["dag_run_id"].startswith("intake__")
    status, again = post({"customers": [person]}, key="intake-test-1")
    assert (status, again["dag_run_id"], again["created"]) == (200, created["dag_run_id"], False)
    request = urllib.request.Request(f"{base}/api/v2/dags/kyc_onboarding/dagRuns/{created['dag_run_id']}",
                                     headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=15) as response:
        run = json.loads(response.read())
    assert run["conf"] == {"customer_ids": created["customer_ids"]}
