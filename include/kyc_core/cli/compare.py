"""`kyc compare`: score two names, or every pair of a CSV, with the production matcher."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path
from typing import TextIO

from kyc_core.errors import UserError
from kyc_core.screening.compare import MATCHER_VERSION, Thresholds, compare_two_names
from kyc_core.screening.model import entity_type

_CLI_TYPES = {"person": "person", "company": "organization"}


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `compare` command."""
    parser = sub.add_parser(
        "compare",
        help="score two names (JSON), or every name1,name2[,schema] row of a CSV (CSV on stdout)",
    )
    parser.add_argument("names", nargs="*", metavar="NAME", help="the two names to compare")
    parser.add_argument("--type", choices=tuple(_CLI_TYPES), help="what both names belong to")
    parser.add_argument(
        "--pairs", metavar="PAIRS.csv", help="CSV with name1,name2 and optional schema columns"
    )
    parser.add_argument(
        "--segment", choices=("cgp", "fintech", "asset_mgmt"), default="cgp",
        help="policy whose screening thresholds decide the verdict (default: cgp)",
    )
    parser.set_defaults(func=handler)


def handler(args: argparse.Namespace) -> int:
    """Run `kyc compare` with parsed arguments; returns the exit code."""
    from kyc_core.policy import screening_thresholds

    thresholds = screening_thresholds(getattr(args, "segment", "cgp"))
    if args.pairs:
        if args.names:
            raise UserError("give either two names or --pairs PAIRS.csv, not both")
        default_type = _CLI_TYPES[args.type] if args.type else "unknown"
        compare_pairs_file(Path(args.pairs), sys.stdout, thresholds, default_type)
        return 0
    if len(args.names) != 2:
        raise UserError(f"compare needs exactly two names (got {len(args.names)}), or --pairs PAIRS.csv")
    name1, name2 = args.names
    if not name1.strip() or not name2.strip():
        raise UserError("compare: a name is empty")
    type_ = _CLI_TYPES[args.type] if args.type else "unknown"
    print(json.dumps(compare_json(name1, name2, type_, thresholds), ensure_ascii=False, sort_keys=True))
    return 0


def compare_json(name1: str, name2: str, type_: str, thresholds: Thresholds) -> dict:
    """The JSON document `kyc compare NAME1 NAME2` prints."""
    result = compare_two_names(name1, name2, type_)
    return {
        "name1": name1,
        "name2": name2,
        "type": type_,
        "score": round(result.score, 4),
        "verdict": thresholds.verdict(result.score),
        "thresholds": {"review": thresholds.review, "match": thresholds.match},
        "matcher_version": MATCHER_VERSION,
        "explanation": result.explanation,
    }


def compare_pairs_file(path: Path, out: TextIO, thresholds: Thresholds, default_type: str = "unknown") -> int:
    """Score every row of a pairs CSV and write it back with `score` and `predicted_match`; returns the row count.

    A row's `schema` column, when filled, decides its type; otherwise `default_type` (from --type) does.
    """
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot be read ({exc.strerror})") from None
    with handle:
        try:
            return _compare_rows(handle, out, thresholds, str(path), default_type)
        except UnicodeDecodeError:
            raise UserError(f"{path}: not UTF-8 text") from None
        except csv.Error as exc:
            raise UserError(f"{path}: malformed CSV ({exc})") from None


def _compare_rows(handle: TextIO, out: TextIO, thresholds: Thresholds, source: str, default_type: str) -> int:
    reader = csv.DictReader(handle)
    header = list(reader.fieldnames or [])
    missing = [c for c in ("name1", "name2") if c not in header]
    if missing:
        raise UserError(
            f"{source}: header lacks column(s) {', '.join(missing)} (expected name1,name2[,schema])"
        )
    columns = header + [c for c in ("score", "predicted_match") if c not in header]
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    count = 0
    for line, row in enumerate(reader, start=2):
        if None in row:
            raise UserError(f"{source} line {line}: more values than header columns")
        name1, name2 = (row.get("name1") or "").strip(), (row.get("name2") or "").strip()
        if not name1 or not name2:
            raise UserError(f"{source} line {line}: name1 and name2 must both be filled")
        try:
            type_ = entity_type(row.get("schema")) if (row.get("schema") or "").strip() else default_type
        except ValueError:
            raise UserError(f"{source} line {line}: unknown schema {row.get('schema')!r}") from None
        score = compare_two_names(name1, name2, type_).score
        row["score"] = f"{score:.4f}"
        row["predicted_match"] = "true" if score >= thresholds.match else "false"
        writer.writerow(row)
        count += 1
    return count
