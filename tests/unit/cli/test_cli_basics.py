"""The `kyc` command: help everywhere, one-line errors, real effects on a database."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from kyc_core.cli import build_parser, main


def _subcommand_paths(parser, prefix=()):
    for action in parser._actions:
        if action.__class__.__name__ == "_SubParsersAction":
            for name, sub in action.choices.items():
                yield (*prefix, name)
                yield from _subcommand_paths(sub, (*prefix, name))


def test_every_subcommand_has_help(capsys):
    paths = list(_subcommand_paths(build_parser()))
    assert ("db", "upgrade") in paths and ("audit", "verify") in paths
    for path in paths:
        with pytest.raises(SystemExit) as info:
            main([*path, "--help"])
        assert info.value.code == 0
        out = capsys.readouterr().out
        assert out.startswith("usage: kyc " + " ".join(path))


def _kyc(*args, url: str | None = None):
    env = dict(os.environ)
    env.pop("KYC_DATABASE_URL", None)
    if url is not None:
        env["KYC_DATABASE_URL"] = url
    return subprocess.run([sys.executable, "-m", "kyc_core.cli", *args], env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "not a valid SQLAlchemy URL"),
        ("mysql://root@127.0.0.1/x", "is not supported"),
        ("postgresql://nobody@127.0.0.1:1/kyc", "cannot reach the KYC database"),
    ],
)
def test_bad_database_url_is_one_line(url, message):
    result = _kyc("db", "upgrade", url=url)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and message in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_arguments_exit_2_in_one_line():
    result = _kyc("db", "downgrade")
    assert result.returncode == 2
    assert "required" in result.stderr and "Traceback" not in result.stderr


def test_upgrade_then_verify_through_the_cli(tmp_path):
    url = f"sqlite:///{tmp_path / 'kyc.db'}"
    from kyc_core.store.migrate import head_revision

    head = head_revision()
    up = _kyc("db", "upgrade", url=url)
    assert up.returncode == 0, up.stderr
    assert f"upgraded: empty -> {head}" in up.stdout
    again = _kyc("db", "upgrade", url=url)
    assert f"already at revision {head}" in again.stdout
    verify = _kyc("audit", "verify", url=url)
    assert verify.returncode == 0 and "audit trail OK: 1 events" in verify.stdout
    assert _kyc("db", "current", url=url).returncode == 0


def test_verify_fails_on_tampering_through_the_cli(tmp_path):
    import sqlite3

    url = f"sqlite:///{tmp_path / 'kyc.db'}"
    assert _kyc("db", "upgrade", url=url).returncode == 0
    conn = sqlite3.connect(tmp_path / "kyc.db")
    conn.execute("DROP TRIGGER audit_event_no_update")
    conn.execute("UPDATE audit_event SET actor = 'mallory' WHERE seq = 1")
    conn.commit()
    conn.close()
    verify = _kyc("audit", "verify", url=url)
    assert verify.returncode == 1
    assert "event #1 (schema_upgraded) was altered" in verify.stderr


def test_downgrade_needs_confirmation(tmp_path):
    url = f"sqlite:///{tmp_path / 'kyc.db'}"
    _kyc("db", "upgrade", url=url)
    refused = _kyc("db", "downgrade", "base", url=url)
    assert refused.returncode == 1 and "--yes" in refused.stderr
    done = _kyc("db", "downgrade", "base", "--yes", url=url)
    assert done.returncode == 0 and "base (empty)" in done.stdout


def test_verify_on_empty_database_is_one_line(tmp_path):
    result = _kyc("audit", "verify", url=f"sqlite:///{tmp_path / 'empty.db'}")
    assert result.returncode == 1 and "cannot read the audit trail" in result.stderr


def test_audit_list_filters_by_type_and_customer(tmp_path):
    from kyc_core.customers.registration import record_rejection, register_batch
    from kyc_core.customers.request import InvalidRequest, parse_request
    from kyc_core.store import migrate
    from kyc_core.store.db import session_scope

    url = f"sqlite:///{tmp_path / 'kyc.db'}"
    migrate.upgrade(url)
    conf = {"customers": [{"customer": {"kind": "entity", "siren": "552100554", "declared_name": "Demo SA"}, "segment": "cgp"}]}
    with session_scope(url) as s:
        (registered,) = register_batch(s, parse_request(conf), actor="t", run_id="r1")
        record_rejection(s, InvalidRequest([{"field": "customers.0.segment", "message": "bad"}]), actor="t", run_id="r2")
    rejected = _kyc("audit", "list", "--type", "input_rejected", "--json", url=url)
    assert rejected.returncode == 0, rejected.stderr
    rows = [json.loads(line) for line in rejected.stdout.splitlines()]
    assert [(r["type"], r["run_id"]) for r in rows] == [("input_rejected", "r2")]
    mine = _kyc("audit", "list", "--customer", registered.customer_id[:8], url=url)
    assert mine.returncode == 0 and "customer_registered" in mine.stdout and "input_rejected" not in mine.stdout
    unknown = _kyc("audit", "list", "--customer", "ffffffff", url=url)
    assert unknown.returncode != 0 and len(unknown.stderr.strip().splitlines()) == 1
