"""Load OFAC SDN (2024, ~15k entries) + UN + EU into a fresh KYC database: wall time and peak memory.

Target (issue 4): <= 10 s and <= 500 MB peak resident memory for the three lists together.

    .venv/bin/python bench/list_load.py                       # embedded SQLite in a temp dir
    .venv/bin/python bench/list_load.py --url postgresql+psycopg://postgres@127.0.0.1:5432/kyc_bench
    .venv/bin/python bench/list_load.py --advanced-copies 60  # + parse a ~120 MB ADVANCED XML built
                                                              #   from cons_advanced.xml (streaming check)
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import sys
import tempfile
import time
from pathlib import Path

from kyc_core.lists.detect import parse_path
from kyc_core.lists.versions import load_path
from kyc_core.store.migrate import upgrade

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("KYC_SHARED_DATA", REPO.parent / "shared" / "data")) / "real"
INPUTS = (
    ("OFAC SDN CSV 2024-05-02", DATA / "ofac/history/2024-05-02"),
    ("UN SC consolidated XML", DATA / "un/UN_consolidated.xml"),
    ("EU FSF XML sample", DATA / "eu/eu_sample.xml"),
)
TARGET_SECONDS = 10.0
TARGET_MB = 500.0


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.iterdir()) if path.is_dir() else path.stat().st_size


def _peak_mb() -> float:
    # ru_maxrss is in KiB on Linux: the process's peak resident set since start.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _shift(pattern: str, text: str, offset: int) -> str:
    return re.sub(pattern, lambda m: f'{m.group(1)}="{int(m.group(2)) + offset}"', text)


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="database URL (must be an empty database); default: a fresh SQLite file")
    parser.add_argument("--advanced-copies", type=int, default=0, help="also stream-parse a synthetic ADVANCED XML")
    args = parser.parse_args()
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
