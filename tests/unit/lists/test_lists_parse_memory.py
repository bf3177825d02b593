"""Parsing a valid list takes less memory than twice the file's size (measured in a fresh process)."""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

# Peak resident set while parsing, minus the resident set just before (interpreter, libraries and the
# country-name table loaded: that table is a fixed cost of every process, whatever the file).
_MEASURE = """
import json, sys
from kyc_core.lists.detect import parse_path
from kyc_core.lists.fields import country_code

def resident_mb(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(field)

country_code("France")
before = resident_mb("VmRSS")
entries = len(parse_path(sys.argv[1], max_file_mb=1000).entries)
print(json.dumps({"entries": entries, "parse_mb": resident_mb("VmHWM") - before}))
"""


def _ofac_csv(real: Path, target: Path, size: int) -> Path:
    """An OFAC SDN CSV of about `size` bytes: the real 2024-05-02 rows again and again, renumbered."""
    rows = (real / "ofac/history/2024-05-02/sdn.csv").read_bytes().rstrip(b"\x1a\r\n").split(b"\r\n")
    target.mkdir()
    written = 0
    with (target / "sdn.csv").open("wb") as out:
        for number, row in enumerate(itertools.cycle(rows), 1):
            line = str(number).encode() + row[row.index(b",") :] + b"\r\n"
            out.write(line)
            written += len(line)
            if written >= size:
                break
        out.write(b"\x1a")
    return target


def _renumbered(block: str, offset: int) -> str:
    return re.sub(r"<DATAID>(\d+)</DATAID>", lambda m: f"<DATAID>{int(m.group(1)) + offset}</DATAID>", block)


def _un_xml(real: Path, target: Path, copies: int) -> Path:
    """The real UN consolidated list with every record `copies` times, renumbered."""
    text = (real / "un/UN_consolidated.xml").read_text(encoding="utf-8")
    head, rest = text.split("<INDIVIDUALS>", 1)
    individuals, rest = rest.split("</INDIVIDUALS>", 1)
    middle, rest = rest.split("<ENTITIES>", 1)
    entities, end = rest.split("</ENTITIES>", 1)

    def copied(block: str) -> str:
        return "".join(_renumbered(block, n * 10_000_000) for n in range(copies))

    target.write_text(
        f"{head}<INDIVIDUALS>{copied(individuals)}</INDIVIDUALS>{middle}<ENTITIES>{copied(entities)}</ENTITIES>{end}",
        encoding="utf-8",
    )
    return target


@pytest.mark.parametrize("sample", ["ofac_csv", "un_xml", "us_csl"])
def test_parsing_a_valid_list_stays_under_twice_its_size(shared_data: Path, tmp_path: Path, sample: str) -> None:
    if not Path("/proc/self/status").exists():
        pytest.skip("peak resident memory is read from /proc (Linux)")
    real = shared_data / "real"
    if sample == "ofac_csv":
        path = _ofac_csv(real, tmp_path / "ofac", 6_000_000)
        size = (path / "sdn.csv").stat().st_size
    elif sample == "un_xml":
        path = _un_xml(real, tmp_path / "UN_consolidated.xml", 3)
        size = path.stat().st_size
    else:
        path = real / "us_csl/consolidated.csv"
        size = path.stat().st_size
    result = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(path)], capture_output=True, text=True, check=True, timeout=120
    )
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    size_mb = size / 2**20
    assert figures["entries"] > 3000
    assert figures["parse_mb"] < 2 * size_mb, (
        f"parsing {size_mb:.1f} MB took {figures['parse_mb']:.1f} MB ({figures['parse_mb'] / size_mb:.2f}x)"
    )
