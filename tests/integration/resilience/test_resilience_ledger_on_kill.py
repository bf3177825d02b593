"""A paid register call is in the ledger even when the process is killed (SIGKILL) right after the answer arrives."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from kyc_core.store.calls import billable_calls
from kyc_core.store.db import session_scope
from kyc_core.store.models import SourceCall
from kyc_dev.emulator.dataset import Dataset
from kyc_dev.emulator.server import credentials
from sqlalchemy import select

pytestmark = pytest.mark.redis

WORKER = Path(__file__).with_name("ledger_kill_worker.py")


def _ledger(url: str, source: str) -> list[tuple[str, float]]:
    with session_scope(url) as s:
        return [(r.outcome, r.cost) for r in s.scalars(select(SourceCall).where(SourceCall.source == source).order_by(SourceCall.id))]


def _emulator_requests(emulator, source: str) -> int:
    return emulator.state.stats.snapshot().get(source, {}).get("requests", 0)


def test_paid_call_of_a_killed_attempt_is_in_the_ledger(store, redis_url, emulator, tmp_path):
    url, prefix = redis_url
    siren = Dataset(emulator.state.config.companies, emulator.state.config.seed).siren(13)
    spec = {
        "urls": dict(emulator.urls), "credentials": credentials(emulator.state.config), "siren": siren,
        "database_url": store, "redis_url": url, "prefix": prefix, "sources": ["bodacc"], "task_id": "fetch[try 1]",
    }
    marker = tmp_path / "paid-answer-in-hand"
    attempt = subprocess.Popen([sys.executable, str(WORKER), json.dumps({**spec, "marker": str(marker)})],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert attempt.poll() is None, attempt.stderr.read().decode() if attempt.stderr else "worker ended"
        assert time.monotonic() < deadline, "the worker never got a paid answer"
        time.sleep(0.05)
    os.kill(attempt.pid, signal.SIGKILL)
    assert attempt.wait(timeout=30) == -signal.SIGKILL

    # What the register billed is what the ledger holds, with no flush, close or exit handler having run.
    paid = _emulator_requests(emulator, "bodacc")
    assert paid == 1
    assert _ledger(store, "bodacc") == [("ok", 0.01)]

    # The retry finds the answer cached: a free cache hit, and the paid call is still counted once.
    retry = subprocess.run([sys.executable, str(WORKER), json.dumps({**spec, "task_id": "fetch[try 2]"})],
                           capture_output=True, timeout=120, check=True)
    assert json.loads(retry.stdout)["bodacc"]["status"] == "ok"
    assert _emulator_requests(emulator, "bodacc") == paid
    ledger = _ledger(store, "bodacc")
    assert ledger == [("ok", 0.01), ("cache_hit", 0.0)]
    with session_scope(store) as s:
        assert billable_calls(s, ["bodacc"], datetime(2000, 1, 1, tzinfo=UTC)) == _emulator_requests(emulator, "bodacc")
