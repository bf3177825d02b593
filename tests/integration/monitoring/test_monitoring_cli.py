"""`kyc sla report`, `kyc incidents` and `kyc cost report` print what the e-mails say."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from kyc_core.monitoring.config import load_sla
from kyc_core.monitoring.monitor import run_monitor
from kyc_core.store.db import session_scope
from kyc_core.store.models import SourceCall


def kyc(*args: str, url: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "KYC_DATABASE_URL": url}
    env.pop("KYC_REDIS_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "kyc_core.cli", *args], env=env, capture_output=True, text=True, timeout=120
    )


def calls(url: str, source: str, n: int, outcome: str, status: int, cost: float = 0.0) -> None:
    now = datetime.now(UTC)
    with session_scope(url) as s:
        s.add_all(
            SourceCall(
                source=source,
                operation="company",
                started_at=now - timedelta(seconds=i + 1),
                latency_ms=100.0,
                outcome=outcome,
                http_status=status,
                cost=cost,
                cache_hit=False,
                attempts=1,
            )
            for i in range(n)
        )


def test_sla_report_incidents_and_cost_report(store):
    calls(store, "rne", 10, "error", 503)
    calls(store, "sirene", 20, "ok", 200)
    calls(store, "bodacc", 30, "ok", 200, cost=0.01)
    run_monitor(store, load_sla, breakers={})

    out = kyc("sla", "report", "--window", "15m", "--json", url=store)
    assert out.returncode == 0, out.stderr
    rows = {r["source"]: r for r in json.loads(out.stdout)["sources"]}
    assert rows["rne"]["status"] == "down" and rows["rne"]["availability_pct"] == 0.0
    assert rows["sirene"]["status"] == "healthy" and rows["sirene"]["calls"] == 20
    assert rows["ofac"]["status"] == "unknown"
    table = kyc("sla", "report", url=store)
    assert table.returncode == 0 and "availability 0 % < threshold 95 % over 15m" in table.stdout

    incidents = kyc("incidents", "--open", "--json", url=store)
    assert incidents.returncode == 0, incidents.stderr
    open_ = {(i["source"], i["severity"]) for i in json.loads(incidents.stdout)}
    assert ("rne", "critical") in open_ and ("sirene", "warning") not in open_
    assert "#" in kyc("incidents", url=store).stdout

    cost = kyc("cost", "report", "--json", url=store)
    assert cost.returncode == 0, cost.stderr
    bodacc = next(s for s in json.loads(cost.stdout)["sources"] if s["source"] == "bodacc")
    assert bodacc["spend_eur"] == 0.3 and bodacc["billable_calls"] == 30
    assert kyc("cost", "report", "--month", "2026-13", url=store).returncode == 1


def test_unreachable_database_is_unknown_never_healthy(tmp_path):
    url = "postgresql+psycopg://postgres@127.0.0.1:1/kyc"
    out = kyc("sla", "report", url=url)
    assert out.returncode == 1
    assert "healthy" not in out.stdout and "rne: unknown" in out.stdout
    assert out.stderr.startswith("kyc: error: cannot measure: KYC database") and out.stderr.count("\n") == 1
