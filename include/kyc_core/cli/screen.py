"""`kyc screen` and `kyc screen-batch`: screen names against the active sanctions list versions."""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from collections.abc import Iterable, Iterator
from datetime import date
from pathlib import Path
from typing import Any, TextIO

from kyc_core.cli.lists import with_store
from kyc_core.errors import UserError
from kyc_core.lists.active import active_list_hashes, load_active_parties
from kyc_core.policy import screening_thresholds
from kyc_core.screening.compare import DEFAULT_THRESHOLDS, Thresholds
from kyc_core.screening.index import Screener
from kyc_core.screening.model import Hit, Subject, entity_type
from kyc_core.screening.persist import screener_for
from kyc_core.settings import get_settings
from kyc_core.store.db import session_scope

_DOB = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
_COUNTRY = re.compile(r"^[A-Za-z]{2}$")
_TYPES = {"person": "person", "company": "organization", "": "unknown"}
_PROGRESS_EVERY = 1000


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `screen` and `screen-batch` commands."""
    one = sub.add_parser("screen", help="screen one name against the active sanctions lists")
    one.add_argument("name", metavar="NAME", help="the name to screen")
    one.add_argument("--type", choices=("person", "company"), help="what the name belongs to")
    one.add_argument("--dob", metavar="YYYY[-MM[-DD]]", help="birth date (persons), to any precision")
    one.add_argument("--country", metavar="CC", help="ISO 3166 alpha-2 nationality or registration country")
    one.add_argument("--json", action="store_true", help="print the hits as JSON")
    one.set_defaults(func=screen_handler)

    batch = sub.add_parser(
        "screen-batch", help="screen every row of a CSV (id,name,type,dob,country) to JSON lines"
    )
    batch.add_argument(
        "input", metavar="INPUT.csv", help="CSV with a header holding id,name,type,dob,country"
    )
    batch.add_argument("--out", metavar="OUT.jsonl", help="write JSON lines here instead of stdout")
    batch.set_defaults(func=screen_batch_handler)
    for parser in (one, batch):
        parser.add_argument(
            "--segment", choices=("cgp", "fintech", "asset_mgmt"), default="cgp",
            help="policy whose screening thresholds apply (default: cgp)",
        )


def check_dob(value: str | None, where: str = "--dob") -> str | None:
    """Validate YYYY, YYYY-MM or YYYY-MM-DD (a real calendar date); None when empty."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if not _DOB.match(value):
        raise UserError(f"{where}: {value!r} is not YYYY, YYYY-MM or YYYY-MM-DD")
    parts = [int(p) for p in value.split("-")]
    try:
        date(parts[0], parts[1] if len(parts) > 1 else 1, parts[2] if len(parts) > 2 else 1)
    except ValueError:
        raise UserError(f"{where}: {value!r} is not a calendar date") from None
    return value


def check_country(value: str | None, where: str = "--country") -> str | None:
    """Validate an ISO alpha-2 code (returned upper-case); None when empty."""
    if value is None or not value.strip():
        return None
    if not _COUNTRY.match(value.strip()):
        raise UserError(f"{where}: {value!r} is not an ISO 3166 alpha-2 country code")
    return value.strip().upper()


def check_type(value: str | None, where: str = "--type") -> str:
    """person | company | empty -> the engine's entity type."""
    key = (value or "").strip().lower()
    if key in _TYPES:
        return _TYPES[key]
    try:
        return entity_type(key)
    except ValueError:
        raise UserError(f"{where}: {value!r} is not person or company") from None


def make_subject(
    key: str, name: str, type_: str | None, dob: str | None, country: str | None, where: str
) -> Subject:
    """A validated screening subject."""
    if not name or not name.strip():
        raise UserError(f"{where}: name is empty")
    birth = check_dob(dob, f"{where} dob")
    nation = check_country(country, f"{where} country")
    return Subject(
        key=key,
        names=(name.strip(),),
        subject_type=check_type(type_, f"{where} type"),
        birth_dates=(birth,) if birth else (),
        countries=(nation,) if nation else (),
    )


def build_screener(thresholds: Thresholds = DEFAULT_THRESHOLDS) -> Screener:  # noqa: B008
    """The screener over the active list versions: their persisted index, built and saved when absent."""
    url = get_settings().effective_database_url

    def read() -> Screener | None:
        with session_scope(url) as session:
            hashes = active_list_hashes(session)
            if not hashes:
                return None
            return screener_for(hashes, lambda: load_active_parties(session), thresholds)

    screener = with_store(read)
    if screener is None or not len(screener.entries):
        raise UserError("no active sanctions list: load one with `kyc lists load PATH...`")
    return screener


def hit_json(hit: Hit) -> dict[str, Any]:
    """The stable JSON shape of one hit."""
    return {
        "list": hit.list_key,
        "entry_id": hit.entry_id,
        "matched_name": hit.matched_name,
        "score": round(hit.score, 4),
        "verdict": hit.verdict,
        "explanation": hit.explanation,
    }


def screen_handler(args: argparse.Namespace) -> int:
    """Screen one name and print its hits."""
    check_dob(args.dob)
    check_country(args.country)
    subject = make_subject("cli", args.name, args.type, args.dob, args.country, "argument")
    screener = build_screener(screening_thresholds(getattr(args, "segment", "cgp")))
    hits = screener.screen(subject)
    if args.json:
        print(
            json.dumps(
                {"name": args.name, "hits": [hit_json(h) for h in hits]}, ensure_ascii=False, sort_keys=True
            )
        )
        return 0
    if not hits:
        print(f"no hit at or above the review threshold ({screener.thresholds.review:.2f})")
        return 0
    print(f"{'SCORE':>6}  {'VERDICT':<7} {'LIST':<10} {'ENTRY':<12} MATCHED NAME")
    for hit in hits:
        print(f"{hit.score:>6.3f}  {hit.verdict:<7} {hit.list_key:<10} {hit.entry_id:<12} {hit.matched_name}")
    return 0


def read_batch(handle: TextIO, source: str) -> Iterator[Subject]:
    """Subjects from a CSV with a header holding id,name,type,dob,country (other columns ignored)."""
    reader = csv.DictReader(handle)
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in ("id", "name") if c not in header]
    if missing:
        raise UserError(
            f"{source}: header lacks column(s) {', '.join(missing)} (expected id,name,type,dob,country)"
        )
    reader.fieldnames = header
    for line, row in enumerate(reader, start=2):
        yield make_subject(
            (row.get("id") or "").strip(),
            row.get("name") or "",
            row.get("type"),
            row.get("dob"),
            row.get("country"),
            f"{source} line {line}",
        )


def write_batch(subjects: Iterable[Subject], screener: Screener, out: TextIO, progress: TextIO) -> int:
    """Screen each subject and write one JSON line per subject; returns the row count."""
    count = hits_total = 0
    for subject in subjects:
        hits = screener.screen(subject)
        out.write(
            json.dumps({"id": subject.key, "hits": [hit_json(h) for h in hits]}, ensure_ascii=False) + "\n"
        )
        count += 1
        hits_total += len(hits)
        if count % _PROGRESS_EVERY == 0:
            progress.write(f"screened {count} rows, {hits_total} hits\n")
            progress.flush()
    progress.write(f"done: {count} rows screened, {hits_total} hits\n")
    return count


def screen_batch_handler(args: argparse.Namespace) -> int:
    """Screen every CSV row; progress on stderr, results as JSON lines."""
    source = Path(args.input)
    if not source.is_file():
        raise UserError(f"{source}: no such file")
    try:
        with source.open(encoding="utf-8-sig", newline="") as handle:
            # Validate the whole file before the lists are loaded: a bad row fails fast and writes nothing.
            subjects = list(read_batch(handle, source.name))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise UserError(f"{source.name}: not a readable UTF-8 CSV ({exc})") from None
    screener = build_screener(screening_thresholds(getattr(args, "segment", "cgp")))
    if args.out:
        with open(args.out, "w", encoding="utf-8") as out:
            write_batch(subjects, screener, out, sys.stderr)
    else:
        write_batch(subjects, screener, sys.stdout, sys.stderr)
    return 0
