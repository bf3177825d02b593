"""The README tells the truth about commands, DAGs, settings and connections."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
README = (REPO / "README.md").read_text()


def test_the_two_commands_come_first():
    commands = re.findall(r"^(make \w+)", README.split("```bash", 1)[1].split("```", 1)[0], flags=re.M)
    assert commands[:2] == ["make demo", "make test"]


def test_every_dag_is_in_the_table():
    for path in (REPO / "dags").glob("*.py"):
        assert f"| `{path.stem}` |" in README, path.stem


def test_every_setting_the_code_reads_is_documented():
    names = set()
    for root in ("include", "plugins", "dags"):
        for path in (REPO / root).rglob("*.py"):
            names |= set(re.findall(r'"(KYC_[A-Z_]+)"', path.read_text()))
    assert {"KYC_DATABASE_URL", "KYC_REDIS_URL"} <= names
    for name in names:
        assert f"`{name}`" in README, name


def test_every_connection_is_documented():
    ids = set()
    for path in (REPO / "plugins").rglob("*.py"):
        ids |= set(re.findall(r'default_conn_name = "([a-z_]+)"', path.read_text()))
        ids |= set(re.findall(r'smtp_conn_id(?:: str)? ?= ?"([a-z_]+)"', path.read_text()))
    assert "kyc_db" in ids and "kyc_smtp" in ids
    for conn_id in ids:
        assert f"`{conn_id}`" in README, conn_id


def test_every_cli_command_is_documented():
    from kyc_core.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    for name in sub.choices:
        assert f"kyc {name}" in README, name
