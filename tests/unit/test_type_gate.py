"""The type gate `make test` runs (mypy on kyc_core and kyc_airflow, configured in pyproject.toml) catches type errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _mypy(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(REPO / "pyproject.toml"), *args],
                          capture_output=True, text=True, timeout=600, cwd=REPO)


def test_the_gate_refuses_a_type_error(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def score(x: float | None) -> float:\n    return x * 2\n")
    out = _mypy(str(bad))
    assert out.returncode == 1 and "bad.py:2: error" in out.stdout, out.stdout


def test_the_gate_is_wired_into_the_test_command():
    makefile = (REPO / "Makefile").read_text()
    test_target = makefile[makefile.index("\ntest:"):].split("\n\n")[0]
    assert "mypy" in test_target
