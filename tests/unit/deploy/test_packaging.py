"""The production wheel holds the product only: the development tools are a separate package."""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


def _uv() -> str:
    local = REPO / ".tools" / "bin" / "uv"
    found = str(local) if local.exists() else shutil.which("uv")
    if found is None:
        pytest.fail("uv is not installed (make install fetches it into .tools/)")
    return found


def _wheel(project: Path, out: Path) -> zipfile.ZipFile:
    done = subprocess.run([_uv(), "build", "--wheel", "--out-dir", str(out), str(project)], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    (wheel,) = out.glob("*.whl")
    return zipfile.ZipFile(wheel)


def test_the_production_wheel_has_no_development_tools(tmp_path):
    names = _wheel(REPO, tmp_path / "prod").namelist()
    tops = {n.split("/")[0] for n in names}
    assert {"kyc_core", "kyc_airflow"} <= tops and "kyc_dev" not in tops
    assert not [n for n in names if "emulator" in n or "mailsink" in n]
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    requires = [line for line in zipfile.ZipFile(next((tmp_path / "prod").glob("*.whl"))).read(metadata).decode().splitlines()
                if line.startswith("Requires-Dist:")]
    assert not [r for r in requires if "aiosmtpd" in r]


def test_the_development_package_carries_the_emulator_and_the_mail_catcher(tmp_path):
    names = _wheel(REPO / "devtools", tmp_path / "dev").namelist()
    assert "kyc_dev/emulator/server.py" in names and "kyc_dev/mailsink.py" in names
