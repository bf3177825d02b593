"""Load OFAC SDN (2024, ~15k entries) + UN + EU into a fresh KYC database: wall time and peak memory.

Target: <= 10 s and <= 500 MB peak resident memory for the three lists together.

    .venv/bin/python bench/list_load.py                       # embedded SQLite in a temp dir
    .venv/bin/python bench/list_load.py --url postgresql+psycopg://postgres@127.0.0.1:5432/kyc_bench
    .venv/bin/python bench/list_load.py --advanced-copies 60  # + parse a ~120 MB ADVANCED XML built
                                                              #   from cons_advanced.xml (streaming check)
    .venv/bin/python bench/list_load.py --memory 200          # only: parse memory of hostile files of
                                                              #   ~200 MB, valid generated lists of 1/10
                                                              #   that size and every real sample list,
                                                              #   each in a fresh process

Parse memory = peak resident set of a fresh process parsing one file minus its resident set just before
parsing (interpreter and libraries loaded, Babel's country names included: printed apart), against the
file size (target: under 2x for every file of at least 1 MB; smaller samples are printed, not judged, as the
allocator's own granularity is of their order).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from kyc_core.lists.detect import parse_path
from kyc_core.lists.fields import country_code
from kyc_core.lists.ofac import trio_beside
from kyc_core.lists.versions import load_path
from kyc_core.store.migrate import upgrade

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("KYC_SHARED_DATA", REPO.parent / "shared" / "data")) / "real"
INPUTS = (
    ("OFAC SDN CSV 2024-05-02", DATA / "ofac/history/2024-05-02"),
    ("UN SC consolidated XML", DATA / "un/UN_consolidated.xml"),
    ("EU FSF XML sample", DATA / "eu/eu_sample.xml"),
)
#: Every real sample list, as published (a directory is an OFAC CSV trio).
REAL_LISTS = (
    ("real OFAC SDN CSV 2024-05-02", DATA / "ofac/history/2024-05-02"),
    ("real OFAC SDN CSV trio 2021", DATA / "ofac"),
    ("real OFAC consolidated CSV trio", DATA / "ofac/consolidated_csv"),
    ("real OFAC CONS_ENHANCED.XML", DATA / "ofac/CONS_ENHANCED.XML"),
    ("real OFAC cons_advanced.xml", DATA / "ofac/advanced_xml/cons_advanced.xml"),
    ("real OFAC legacy non-SDN XML", DATA / "ofac/legacy_xml/ofac_non_sdn.xml"),
    ("real UN SC consolidated XML", DATA / "un/UN_consolidated.xml"),
    ("real US CSL consolidated.csv", DATA / "us_csl/consolidated.csv"),
    ("real EU FSF XML sample", DATA / "eu/eu_sample.xml"),
    ("real UK FCDO XML sample", DATA / "uk/uk_sample.xml"),
)
TARGET_SECONDS = 10.0
TARGET_MB = 500.0
#: Parse memory is judged on files of at least this size (MiB).
JUDGED_MB = 1.0


def _size(path: Path) -> int:
    """Bytes of a list file, or of the files of the OFAC CSV trio in a directory."""
    if not path.is_dir():
        return path.stat().st_size
    primary = next(p for name in ("sdn.csv", "cons_prim.csv") if (p := path / name).exists())
    trio = trio_beside(primary)
    return sum(p.stat().st_size for p in (trio.primary, trio.addresses, trio.aliases, trio.comments) if p)


def _peak_mb() -> float:
    # ru_maxrss is in KiB on Linux: the process's peak resident set since start.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _shift(pattern: str, text: str, offset: int) -> str:
    return re.sub(pattern, lambda m: f'{m.group(1)}="{int(m.group(2)) + offset}"', text)


def _renumber_dataid(text: str, offset: int) -> str:
    return re.sub(r"<DATAID>(\d+)</DATAID>", lambda m: f"<DATAID>{int(m.group(1)) + offset}</DATAID>", text)


def build_big_un(copies: int, target: Path) -> int:
    """Write a UN consolidated XML holding `copies` renumbered copies of every record of UN_consolidated.xml."""
    text = (DATA / "un/UN_consolidated.xml").read_text(encoding="utf-8")
    head, rest = text.split("<INDIVIDUALS>", 1)
    individuals, rest = rest.split("</INDIVIDUALS>", 1)
    middle, rest = rest.split("<ENTITIES>", 1)
    entities, end = rest.split("</ENTITIES>", 1)
    with target.open("w", encoding="utf-8") as out:
        out.write(head + "<INDIVIDUALS>")
        for copy in range(copies):
            out.write(_renumber_dataid(individuals, copy * 10_000_000))
        out.write("</INDIVIDUALS>" + middle + "<ENTITIES>")
        for copy in range(copies):
            out.write(_renumber_dataid(entities, copy * 10_000_000))
        out.write("</ENTITIES>" + end)
    return target.stat().st_size


def build_big_advanced(copies: int, target: Path) -> int:
    """Write an ADVANCED XML holding `copies` renumbered copies of every party of cons_advanced.xml."""
    text = (DATA / "ofac/advanced_xml/cons_advanced.xml").read_text(encoding="utf-8")
    head, rest = text.split("<DistinctParties>", 1)
    parties, tail = rest.split("</DistinctParties>", 1)
    entries_head, entries_rest = tail.split("<SanctionsEntries>", 1)
    entries, end = entries_rest.split("</SanctionsEntries>", 1)
    with target.open("w", encoding="utf-8") as out:
        out.write(head + "<DistinctParties>")
        for copy in range(copies):
            # Shift every party id so each copy is a distinct party (profile ids follow FixedRef).
            offset = copy * 10_000_000
            out.write(_shift(r'(FixedRef|Profile ID|ProfileID)="(\d+)"', parties, offset))
        out.write("</DistinctParties>" + entries_head + "<SanctionsEntries>")
        for copy in range(copies):
            offset = copy * 10_000_000
            out.write(_shift(r'(ProfileID)="(\d+)"', entries, offset))
        out.write("</SanctionsEntries>" + end)
    return target.stat().st_size


def _status_mb(field: str) -> float:
    # VmHWM is this process image's own peak (ru_maxrss would carry the parent's peak across fork and exec).
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def parse_one(path: Path) -> dict:
    """Parse `path` in this (fresh) process: its outcome, and the memory parsing took."""
    # Babel and its CLDR country names are imported on the first country lookup, whatever the file: a
    # library load, measured apart.
    loaded = _status_mb("VmRSS")
    country_code("France")
    before = _status_mb("VmRSS")
    t0 = time.perf_counter()
    try:
        outcome = f"{len(parse_path(path, max_file_mb=10_000).entries)} entries"
    except Exception as exc:  # noqa: BLE001 - the refusal is the expected outcome of a hostile file
        outcome = f"refused: {str(exc)[:90]}"
    return {
        "outcome": outcome,
        "seconds": time.perf_counter() - t0,
        "parse_mb": _status_mb("VmHWM") - before,
        "tables_mb": before - loaded,
    }


_ROW = '{n},"NAME {n}, Given",-0- ,"SDGT",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,"DOB 01 Jan 1970; POB Nowhere."\r\n'


def hostile_files(directory: Path, megabytes: int) -> list[tuple[str, Path]]:
    """Files of about `megabytes` MB: OFAC-shaped garbage after a valid start, a huge XML text node."""
    size = megabytes * 1_000_000
    made = []
    garbage = directory / "garbage_csv"
    garbage.mkdir()
    with (garbage / "sdn.csv").open("wb") as out:
        out.write(_ROW.format(n=1).encode())
        line = b'"' + b"A" * 120 + b'",' + b"B" * 60 + b"\r\n"
        block = line * (2**20 // len(line))
        for _ in range(size // len(block)):
            out.write(block)
        out.write(b"\x1a")
    made.append(("OFAC-shaped garbage CSV", garbage))
    quoted = directory / "open_quote_csv"
    quoted.mkdir()
    with (quoted / "sdn.csv").open("wb") as out:
        out.write(_ROW.format(n=1).encode() + b'2,"')
        for _ in range(size // 2**20):
            out.write(b"x y " * 2**18)
        out.write(b"\r\n\x1a")
    made.append(("CSV with one unclosed quote", quoted))
    xml = directory / "SDN.XML"
    head = (DATA / "ofac/legacy_xml/ofac_non_sdn.xml").read_text(encoding="utf-8")
    before, after = head.split("<remarks>", 1)
    with xml.open("w", encoding="utf-8") as out:
        out.write(before + "<remarks>")
        for _ in range(size // 2**20):
            out.write("word " * (2**20 // 5))
        out.write(after)
    made.append(("legacy XML, one huge text node", xml))
    return made


def valid_files(directory: Path, megabytes: int) -> list[tuple[str, Path]]:
    """Valid lists of about `megabytes` MB built from the real samples: OFAC CSV rows, UN XML, ADVANCED XML."""
    size = megabytes * 1_000_000
    made = []
    rows = directory / "valid_csv"
    rows.mkdir()
    real = (DATA / "ofac/history/2024-05-02/sdn.csv").read_bytes().rstrip(b"\x1a\r\n").split(b"\r\n")
    with (rows / "sdn.csv").open("wb") as out:
        written = n = 0
        while written < size // 10:
            for line in real:
                n += 1
                data = str(n).encode() + line[line.index(b","):] + b"\r\n"
                out.write(data)
                written += len(data)
                if written >= size // 10:
                    break
        out.write(b"\x1a")
    made.append(("valid OFAC CSV rows (1/10 size)", rows))
    un = directory / "UN_consolidated.xml"
    build_big_un(max(1, round(size / 10 / (DATA / "un/UN_consolidated.xml").stat().st_size)), un)
    made.append(("valid UN XML (1/10 size)", un))
    advanced = directory / "SDN_ADVANCED.XML"
    copies = round(size / 10 / (DATA / "ofac/advanced_xml/cons_advanced.xml").stat().st_size)
    build_big_advanced(max(1, copies), advanced)
    made.append(("valid ADVANCED XML (1/10 size)", advanced))
    return made


def memory_report(megabytes: int) -> bool:
    """Parse each file in a fresh process; True when every one of at least 1 MB stayed under 2x its size."""
    ok = True
    tables = []
    with tempfile.TemporaryDirectory(prefix="kyc-bench-mem-") as tmp:
        directory = Path(tmp)
        files = hostile_files(directory, megabytes) + valid_files(directory, megabytes) + list(REAL_LISTS)
        for label, path in files:
            size_mb = _size(path) / 2**20
            result = subprocess.run(
                [sys.executable, __file__, "--parse-one", str(path)], capture_output=True, text=True, check=True
            )
            figures = json.loads(result.stdout.strip().splitlines()[-1])
            tables.append(figures["tables_mb"])
            ratio = figures["parse_mb"] / size_mb
            judged = size_mb >= JUDGED_MB
            ok = ok and (ratio < 2 or not judged)
            print(
                f"{label:<34} {size_mb:7.2f} MB  parse memory {figures['parse_mb']:7.1f} MB ({ratio:5.2f}x"
                f"{'' if judged else ', not judged'})  {figures['seconds']:6.1f} s  {figures['outcome']}"
            )
    print(f"Babel and its country names, imported once per process (not counted above): {max(tables):.1f} MB")
    print(f"parse memory under 2x the file size (files of {JUDGED_MB:g} MB or more): {'met' if ok else 'NOT met'}")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="database URL (must be an empty database); default: a fresh SQLite file")
    parser.add_argument("--advanced-copies", type=int, default=0, help="also stream-parse a synthetic ADVANCED XML")
    parser.add_argument("--memory", type=int, default=0, metavar="MB",
                        help="only measure parse memory on generated hostile and large files of about MB megabytes")
    parser.add_argument("--parse-one", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.parse_one:
        print(json.dumps(parse_one(args.parse_one)))
        return 0
    if args.memory:
        return 0 if memory_report(args.memory) else 1
    url = args.url or f"sqlite:///{tempfile.mkdtemp(prefix='kyc-bench-')}/kyc.db"
    upgrade(url)
    print(f"database: {url.split('@')[-1]}")
    print(f"peak RSS before loading (interpreter + libraries): {_peak_mb():.0f} MB")
    total_entries = 0
    started = time.perf_counter()
    for label, path in INPUTS:
        t0 = time.perf_counter()
        outcome = load_path(path, url=url, actor="bench")
        elapsed = time.perf_counter() - t0
        total_entries += outcome.entry_count
        print(
            f"{label:<26} {_size(path) / 1e6:6.2f} MB input  {outcome.entry_count:>6} entries  "
            f"{elapsed:6.2f} s  status={outcome.status}"
        )
    total = time.perf_counter() - started
    peak = _peak_mb()
    print(f"total: {total_entries} entries in {total:.2f} s ({total_entries / total:,.0f} entries/s)")
    print(f"peak RSS: {peak:.0f} MB")
    ok = total <= TARGET_SECONDS and peak <= TARGET_MB
    print(f"target <= {TARGET_SECONDS:.0f} s and <= {TARGET_MB:.0f} MB: {'met' if ok else 'NOT met'}")
    if args.advanced_copies:
        big = Path(tempfile.mkdtemp(prefix="kyc-bench-adv-")) / "SDN_ADVANCED.XML"
        size = build_big_advanced(args.advanced_copies, big)
        t0 = time.perf_counter()
        parsed = parse_path(big)
        elapsed = time.perf_counter() - t0
        print(
            f"synthetic ADVANCED XML {size / 1e6:.0f} MB: {len(parsed.entries)} parties parsed in {elapsed:.1f} s, "
            f"peak RSS now {_peak_mb():.0f} MB (parse only, not stored)"
        )
        big.unlink()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
