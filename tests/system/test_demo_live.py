"""The README's first command, for real: Airflow components on loopback, runs triggered through REST.

Also the privacy rule: nothing the demo's processes logged names a sample customer.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _personal_strings(home: Path) -> set[str]:
    samples = json.loads((home / "samples.json").read_text())
    found: set[str] = set()
    for sample in samples:
        for item in sample["conf"]["customers"]:
            subject = item["customer"]
            for key in ("name", "declared_name", "birth_date"):
                if subject.get(key):
                    found.add(subject[key])
    return found


@pytest.mark.airflow_live
def test_demo_end_to_end_and_logs_hold_no_personal_data(tmp_path):
    home = tmp_path / "demo"
    env = dict(os.environ)
    for key in list(env):
        if key.startswith(("AIRFLOW", "KYC_")):
            del env[key]
    env.update(
        DEMO_HOME=str(home),
        DEMO_PORT=str(_free_port()),
        DEMO_EMULATOR_PORT=str(_free_port()),
        DEMO_SMTP_PORT=str(_free_port()),
        DEMO_KEEP_RUNNING="0",
    )
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "demo.py"), "run"], env=env, capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "audit trail OK" in out
    # Every kind of decision, reached through REST triggers and REST four-eyes approvals.
    for line in (
        "company, clean register record",
        "company, officer on sanctions lists",
        "person, declared foreign PEP",
        "company, RNE outage during the run",
    ):
        assert line in out
    for outcome in ("approve (final)", "reject (final)", "edd_required (final)", "review (final)"):
        assert outcome in out, outcome
    assert "analyst1,analyst2" in out
    assert "source_unavailable" in out
    assert "company_struck_off" in out
    assert "invalid SIREN (refused at validation)  failed" in out
    assert "a conf with an unknown segment was refused by the REST API (400)" in out
    assert len(list((home / "mail").glob("*.eml"))) >= 2
    assert not (home / "pids.json").exists(), "make stop left processes recorded"

    secrets = _personal_strings(home)
    assert len(secrets) >= 6
    logs = [p for p in home.rglob("*") if p.is_file() and (p.suffix == ".log" or "logs" in p.parts)]
    task_logs = [p for p in logs if "dag_id=kyc_onboarding" in str(p)]
    assert task_logs, "no task logs were written"
    leaks = {(str(p.relative_to(home)), s) for p in logs for s in secrets if s in p.read_text(errors="replace")}
    assert not leaks, f"personal data in logs: {sorted(leaks)[:5]}"
