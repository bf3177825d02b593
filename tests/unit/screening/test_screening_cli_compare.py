"""`kyc compare`: the JSON of one pair and the CSV of many, exactly as the contract says."""

from __future__ import annotations

import argparse
import csv
import io
import json

import pytest
from kyc_core.cli import compare as compare_cli
from kyc_core.errors import UserError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kyc")
    compare_cli.register(parser.add_subparsers(dest="command"))
    return parser


def _run(argv: list[str], capsys) -> tuple[int, str]:
    args = _parser().parse_args(argv)
    code = args.func(args)
    return code, capsys.readouterr().out


def test_two_names_print_score_and_verdict(capsys):
    code, out = _run(["compare", "Vladimir Putin", "PUTIN, Vladimir", "--type", "person"], capsys)
    doc = json.loads(out)
    assert code == 0
    assert doc["verdict"] == "match"
    assert 0.7 <= doc["score"] < 1.0
    assert doc["matcher_version"].startswith("kyc-matcher-")


def test_company_type_and_no_match(capsys):
    code, out = _run(["compare", "Deutsche Bank AG", "Volkswagen AG", "--type", "company"], capsys)
    doc = json.loads(out)
    assert (code, doc["verdict"], doc["type"]) == (0, "no_match", "organization")


def test_pairs_csv_keeps_rows_and_adds_score_and_prediction(tmp_path, capsys):
    pairs = tmp_path / "pairs.csv"
    pairs.write_text(
        "name1,name2,schema,note\n"
        "Vladimir Putin,Vladimir Putin,Person,a\n"
        "Siemens AG,Siemens Aktiengesellschaft,Company,b\n"
        "Hans Friedrich,Victory,,c\n"
        "Victory,Victory,Vessel,d\n",
        encoding="utf-8",
    )
    code, out = _run(["compare", "--pairs", str(pairs)], capsys)
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0
    assert list(rows[0]) == ["name1", "name2", "schema", "note", "score", "predicted_match"]
    assert [r["note"] for r in rows] == ["a", "b", "c", "d"]
    assert [r["predicted_match"] for r in rows] == ["true", "true", "false", "true"]
    assert all(0.0 <= float(r["score"]) <= 1.0 for r in rows)


def test_pairs_without_schema_column(tmp_path, capsys):
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("name1,name2\nOlaf Scholz,Olaf Scholze\n", encoding="utf-8")
    _, out = _run(["compare", "--pairs", str(pairs)], capsys)
    assert out.splitlines()[0] == "name1,name2,score,predicted_match"
    assert out.splitlines()[1].endswith(",true")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("a,b\nx,y\n", "header lacks column(s) name1, name2"),
        ("name1,name2,schema\nA,B,Spaceship\n", "line 2: unknown schema 'Spaceship'"),
        ("name1,name2\nA,\n", "line 2: name1 and name2 must both be filled"),
    ],
)
def test_bad_pairs_files_are_one_line_user_errors(tmp_path, content, message):
    pairs = tmp_path / "pairs.csv"
    pairs.write_text(content, encoding="utf-8")
    args = _parser().parse_args(["compare", "--pairs", str(pairs)])
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")) as caught:
        args.func(args)
    assert "\n" not in str(caught.value)


def test_missing_file_and_wrong_argument_count(tmp_path):
    args = _parser().parse_args(["compare", "--pairs", str(tmp_path / "nope.csv")])
    with pytest.raises(UserError, match="no such file"):
        args.func(args)
    args = _parser().parse_args(["compare", "only one"])
    with pytest.raises(UserError, match="exactly two names"):
        args.func(args)


def test_type_option_applies_to_rows_without_schema(tmp_path, capsys):
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("name1,name2\nV. Putin,Vladimir Putin\n", encoding="utf-8")
    _, as_person = _run(["compare", "--pairs", str(pairs), "--type", "person"], capsys)
    _, as_company = _run(["compare", "--pairs", str(pairs), "--type", "company"], capsys)
    # For a person "V." is an initial; for a company it is a series number that Vladimir does not explain.
    assert as_person.splitlines()[1].endswith(",true")
    assert as_company.splitlines()[1].endswith(",false")
