"""`kyc screen` and `kyc screen-batch` handlers against lists loaded in the real databases."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from kyc_core.cli import screen as screen_cli
from kyc_core.errors import UserError
from kyc_core.lists.versions import load_path
from kyc_core.screening.compare import DEFAULT_THRESHOLDS
from kyc_core.store.migrate import upgrade


@pytest.fixture
def loaded(db_url: str, shared_data: Path, monkeypatch) -> str:
    upgrade(db_url)
    load_path(shared_data / "real/eu/eu_sample.xml", url=db_url, actor="test")
    load_path(shared_data / "real/un/UN_consolidated.xml", url=db_url, actor="test")
    monkeypatch.setenv("KYC_DATABASE_URL", db_url)
    return db_url


def _screen(name: str, **kw) -> argparse.Namespace:
    return argparse.Namespace(
        name=name,
        type=kw.get("type"),
        dob=kw.get("dob"),
        country=kw.get("country"),
        json=kw.get("json", True),
    )


def test_screen_one_name_json(loaded: str, capsys) -> None:
    assert (
        screen_cli.screen_handler(
            _screen("Saddam Hussein Al Tikriti", type="person", dob="1937-04-28", country="IQ")
        )
        == 0
    )
    result = json.loads(capsys.readouterr().out)
    top = result["hits"][0]
    assert (top["list"], top["entry_id"], top["matched_name"]) == (
        "eu_fsf",
        "13",
        "Saddam Hussein Al-Tikriti",
    )
    assert top["score"] >= DEFAULT_THRESHOLDS.match
    assert top["explanation"]["birth_date"]["detail"] == "day"
    scores = [h["score"] for h in result["hits"]]
    assert scores == sorted(scores, reverse=True) and min(scores) >= DEFAULT_THRESHOLDS.review


def test_screen_table_and_no_hit(loaded: str, capsys) -> None:
    assert screen_cli.screen_handler(_screen("Akram Turki Al Mazidih", json=False)) == 0
    assert "un_sc" in capsys.readouterr().out
    assert screen_cli.screen_handler(_screen("Marie-Claire Dubois-Lefebvre", type="person", json=False)) == 0
    assert "no hit" in capsys.readouterr().out


def test_screen_rejects_bad_arguments(loaded: str) -> None:
    with pytest.raises(UserError, match="not YYYY"):
        screen_cli.screen_handler(_screen("X", dob="28/04/1937"))
    with pytest.raises(UserError, match="calendar date"):
        screen_cli.screen_handler(_screen("X", dob="1937-02-30"))
    with pytest.raises(UserError, match="alpha-2"):
        screen_cli.screen_handler(_screen("X", country="IRQ"))


def test_screen_batch_writes_one_line_per_row(loaded: str, tmp_path: Path, capsys) -> None:
    source = tmp_path / "in.csv"
    source.write_text(
        "id,name,type,dob,country,segment\n"
        "c1,Saddam Hussein Al-Tikriti,person,1937,IQ,cgp\n"
        "c2,Jean Martin,,,,fintech\n"
        "c3,Al Rashid Trust,company,,PK,\n",
        encoding="utf-8",
    )
    out = tmp_path / "out.jsonl"
    assert screen_cli.screen_batch_handler(argparse.Namespace(input=str(source), out=str(out))) == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["c1", "c2", "c3"]
    assert rows[0]["hits"][0]["entry_id"] == "13"
    assert rows[1]["hits"] == []
    assert {"eu_fsf", "un_sc"} <= {h["list"] for h in rows[2]["hits"]}
    assert all(
        set(h) >= {"list", "entry_id", "matched_name", "score", "explanation"}
        for r in rows
        for h in r["hits"]
    )
    assert "done: 3 rows screened" in capsys.readouterr().err


def test_screen_batch_bad_input(loaded: str, tmp_path: Path) -> None:
    no_header = tmp_path / "bad.csv"
    no_header.write_text("ident,fullname\n1,X\n", encoding="utf-8")
    with pytest.raises(UserError, match="header lacks column"):
        screen_cli.screen_batch_handler(argparse.Namespace(input=str(no_header), out=None))
    bad_row = tmp_path / "row.csv"
    bad_row.write_text("id,name,type,dob,country\n1,X,robot,,\n", encoding="utf-8")
    with pytest.raises(UserError, match="line 2 type"):
        screen_cli.screen_batch_handler(argparse.Namespace(input=str(bad_row), out=None))


def test_screen_without_lists_is_a_clear_error(sqlite_url: str, monkeypatch) -> None:
    upgrade(sqlite_url)
    monkeypatch.setenv("KYC_DATABASE_URL", sqlite_url)
    with pytest.raises(UserError, match="no active sanctions list"):
        screen_cli.screen_handler(_screen("Anyone"))


def test_kyc_entry_point_wires_the_commands(loaded: str, shared_data: Path, tmp_path: Path, capsys) -> None:
    from kyc_core.cli import main

    assert main(["lists", "load", str(shared_data / "real/eu/eu_sample.xml")]) == 0
    assert "eu_fsf: unchanged" in capsys.readouterr().out
    assert main(["screen", "Al Rashid Trust", "--type", "company", "--country", "PK", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)["hits"]
    assert (hits[0]["list"], hits[0]["entry_id"]) == ("eu_fsf", "330")
    pointer = tmp_path / "SDN_ADVANCED.XML"
    pointer.write_text("version https://git-lfs.github.com/spec/v1\noid sha256:0\nsize 118000000\n")
    assert main(["lists", "load", str(pointer)]) == 1
    err = capsys.readouterr().err.strip()
    assert "Git LFS pointer" in err and len(err.splitlines()) == 1
    assert main(["screen", "X", "--dob", "1990-13"]) == 1
    assert capsys.readouterr().err.strip().startswith("kyc: error: --dob:")
