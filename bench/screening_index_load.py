"""Persisted screening index: build and save time, size, and load time in fresh processes.

Input: the real OFAC SDN (2024-05-02), UN SC and EU files from ../shared/data/real plus generated entries up to
--list-names names (the same generator as bench/screening_throughput.py). The index is built once, saved under
a temporary root, then opened --runs times, each in a new Python process: the time of `open_index` is reported
apart from the interpreter and import start-up, with the time of the first screen after it. Every run also
checks that the opened index gives the same hits as the built one on a sample of names.

With --cli, the start-up of `kyc screen-batch` on a one-row file is also timed against a fresh SQLite KYC
database holding the real lists (`kyc lists load` builds the index when it activates them).

    .venv/bin/python bench/screening_index_load.py [--list-names 60000] [--runs 5] [--cli]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from kyc_core.screening.compare import DEFAULT_THRESHOLDS, MATCHER_VERSION
from kyc_core.screening.index import Screener
from kyc_core.screening.model import Subject
from kyc_core.screening.persist import index_key, save_index

sys.path.insert(0, str(Path(__file__).resolve().parent))
from screening_throughput import REAL_LISTS, SHARED, generate_entries, load_real_entries  # noqa: E402

_CHILD = """
import json, sys, time
started = time.perf_counter()
from kyc_core.screening.persist import open_index
from kyc_core.screening.model import Subject
imported = time.perf_counter()
screener = open_index(sys.argv[1], __import__("pathlib").Path(sys.argv[2]))
opened = time.perf_counter()
names = json.loads(sys.argv[3])
first = [[(h.entry_id, round(h.score, 6)) for h in screener.screen(Subject("q", (n,), t))] for n, t in names[:1]]
screened = time.perf_counter()
rest = [[(h.entry_id, round(h.score, 6)) for h in screener.screen(Subject("q", (n,), t))] for n, t in names[1:]]
print(json.dumps({"import": imported - started, "open": opened - imported, "first_screen": screened - opened,
                  "hits": first + rest}))
"""


def _sample(entries, rng: random.Random, count: int) -> list[tuple[str, str]]:
    return [(e.names[0], e.entry_type) for e in rng.sample(entries, count)]


def _cli_startup(workdir: Path) -> None:
    env = dict(os.environ, KYC_HOME=str(workdir / "home"), KYC_SCREENING_INDEX_DIR=str(workdir / "cli-index"))
    env.pop("KYC_DATABASE_URL", None)
    kyc = str(Path(sys.executable).parent / "kyc")
    subprocess.run([kyc, "db", "upgrade"], env=env, check=True, capture_output=True)
    paths = [str(SHARED / p) for p in REAL_LISTS if (SHARED / p).exists()]
    started = time.perf_counter()
    subprocess.run([kyc, "lists", "load", *paths], env=env, check=True, capture_output=True)
    print(
        f"\nkyc lists load ({len(paths)} files, index built on activation): {time.perf_counter() - started:.1f} s"
    )
    batch = workdir / "one.csv"
    batch.write_text("id,name,type,dob,country\n1,Moahmed ABRINI,person,,\n")
    for label in ("first run", "second run"):
        started = time.perf_counter()
        subprocess.run([kyc, "screen-batch", str(batch)], env=env, check=True, capture_output=True)
        print(f"kyc screen-batch of one row ({label}, whole process): {time.perf_counter() - started:.2f} s")


def main(argv: list[str] | None = None) -> int:
    """Build, save, reopen in fresh processes, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list-names", type=int, default=60_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=20260401)
    parser.add_argument("--cli", action="store_true")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    real, notes = load_real_entries()
    for note in notes:
        print(note)
    entries = real + generate_entries(rng, args.list_names, sum(len(e.names) for e in real))
    print(
        f"matcher {MATCHER_VERSION}; list entries {len(entries)}, names {sum(len(e.names) for e in entries)}"
    )
    started = time.perf_counter()
    built = Screener(entries, DEFAULT_THRESHOLDS)
    print(f"index build: {time.perf_counter() - started:.1f} s")
    workdir = Path(tempfile.mkdtemp(prefix="kyc-index-bench-"))
    key = index_key({"bench": str(args.seed)})
    started = time.perf_counter()
    directory = save_index(built, key, workdir)
    size = sum(p.stat().st_size for p in directory.iterdir())
    print(
        f"index save: {time.perf_counter() - started:.2f} s, {size / 1e6:.1f} MB in {len(list(directory.iterdir()))} files"
    )
    names = _sample(entries, rng, 50)
    expected = [
        [(h.entry_id, round(h.score, 6)) for h in built.screen(Subject("q", (n,), t))] for n, t in names
    ]
    figures: dict[str, list[float]] = {"import": [], "open": [], "first_screen": []}
    for _ in range(args.runs):
        out = subprocess.run(
            [sys.executable, "-c", _CHILD, key, str(workdir), json.dumps(names)],
            check=True,
            capture_output=True,
            text=True,
        )
        result = json.loads(out.stdout)
        got = [[tuple(h) for h in hits] for hits in result["hits"]]
        if got != expected:
            sys.exit("the opened index gives other hits than the built one")
        for name in figures:
            figures[name].append(result[name])
    print(f"\nfresh process, {args.runs} runs (same hits as the built index on {len(names)} names each run):")
    for name, values in figures.items():
        print(
            f"  {name:<13} median {statistics.median(values) * 1000:7.1f} ms   max {max(values) * 1000:7.1f} ms"
        )
    print("  (target: open <= 300 ms)")
    if args.cli:
        _cli_startup(workdir)
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
