"""Recognise a list file (or OFAC CSV directory) from its content and hand it to the right parser."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from lxml import etree

from kyc_core.errors import UserError
from kyc_core.lists.csvlists import CSL_HEADER, parse_internal_csv, parse_us_csl
from kyc_core.lists.eu import parse_eu_xml
from kyc_core.lists.model import ParsedList
from kyc_core.lists.ofac import CsvTrio, parse_csv_trio, parse_legacy_xml, trio_beside
from kyc_core.lists.ofac_xml import parse_advanced_xml, parse_enhanced_xml
from kyc_core.lists.uk import parse_uk_xml
from kyc_core.lists.un import parse_un_xml
from kyc_core.settings import get_settings

_LFS_POINTER = b"version https://git-lfs.github.com/spec/"
# First row of an OFAC primary CSV: a numeric ent_num then a quoted name, no header.
_OFAC_CSV_ROW = re.compile(rb'^\s*\d+,"')
_XML_ROOTS: dict[str, tuple[str, Callable[[Path], ParsedList]]] = {
    "sdnList": ("ofac_legacy_xml", parse_legacy_xml),
    "Sanctions": ("ofac_advanced_xml", parse_advanced_xml),
    "sanctionsData": ("ofac_enhanced_xml", parse_enhanced_xml),
    "export": ("eu_xml", parse_eu_xml),
    "CONSOLIDATED_LIST": ("un_xml", parse_un_xml),
    "Designations": ("uk_xml", parse_uk_xml),
}
_PRIMARY_CSV_NAMES = ("sdn.csv", "cons_prim.csv")


def _head(path: Path, size: int = 4096) -> bytes:
    try:
        with path.open("rb") as handle:
            return handle.read(size)
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc.strerror or exc})") from None


def _xml_root(path: Path) -> str:
    try:
        for _, element in etree.iterparse(
            str(path), events=("start",), resolve_entities=False, no_network=True
        ):
            return etree.QName(element).localname
    except etree.XMLSyntaxError as exc:
        raise UserError(f"{path.name}: XML is truncated or corrupted ({str(exc).splitlines()[0]})") from None
    raise UserError(f"{path.name}: XML has no root element")


def detect(path: Path) -> str:
    """The source format of `path`: ofac_csv, ofac_*_xml, eu_xml, un_xml, uk_xml, us_csl_csv or internal_csv."""
    if path.is_dir():
        _trio_in(path)
        return "ofac_csv"
    if not path.exists():
        raise UserError(f"{path}: no such file or directory")
    head = _head(path)
    if not head.strip():
        raise UserError(f"{path.name}: file is empty")
    if head.startswith(_LFS_POINTER):
        raise UserError(
            f"{path.name}: is a Git LFS pointer, not the list itself (fetch the real file with `git lfs pull`)"
        )
    body = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if body.startswith(b"<"):
        root = _xml_root(path)
        if root not in _XML_ROOTS:
            raise UserError(f"{path.name}: unknown XML list format (root element <{root}>)")
        return _XML_ROOTS[root][0]
    if _OFAC_CSV_ROW.match(body):
        return "ofac_csv"
    header = [
        h.strip().strip('"').lower()
        for h in body.split(b"\n", 1)[0].decode("utf-8", "replace").strip().split(",")
    ]
    if tuple(header[: len(CSL_HEADER)]) == CSL_HEADER:
        return "us_csl_csv"
    if "id" in header and "name" in header:
        return "internal_csv"
    raise UserError(
        f"{path.name}: unrecognised list format (expected OFAC CSV/XML, EU FSF XML, UN SC XML, UK FCDO XML, US CSL CSV or an id,name CSV)"
    )


def _trio_in(directory: Path) -> CsvTrio:
    by_name = {p.name.lower(): p for p in directory.iterdir() if p.is_file()}
    for primary in _PRIMARY_CSV_NAMES:
        if primary in by_name:
            return trio_beside(by_name[primary])
    raise UserError(f"{directory}: directory holds no OFAC sdn.csv or cons_prim.csv")


def check_size(path: Path, max_mb: float) -> None:
    """Refuse a list file over `max_mb` megabytes (10^6 bytes) before anything reads it."""
    size = path.stat().st_size
    if size > max_mb * 1_000_000:
        raise UserError(
            f"{path.name}: {size / 1_000_000:.1f} MB is over the {max_mb:g} MB limit for a list file "
            "(KYC_LIST_MAX_FILE_MB): refused before parsing"
        )


def parse_path(path: Path | str, *, max_file_mb: float | None = None) -> ParsedList:
    """Detect the format of `path` and parse the whole list (raises UserError on any damage).

    A file over `max_file_mb` (default `KYC_LIST_MAX_FILE_MB`) is refused before it is read.
    """
    path = Path(path)
    limit = get_settings().list_max_file_mb if max_file_mb is None else max_file_mb
    if path.is_file():
        check_size(path, limit)
    source_format = detect(path)
    if source_format == "ofac_csv":
        trio = _trio_in(path) if path.is_dir() else trio_beside(path)
        for part in (trio.primary, trio.addresses, trio.aliases, trio.comments):
            if part is not None:
                check_size(part, limit)
        parsed = parse_csv_trio(trio)
    elif source_format == "us_csl_csv":
        parsed = parse_us_csl(path)
    elif source_format == "internal_csv":
        parsed = parse_internal_csv(path)
    else:
        root = _xml_root(path)
        parsed = _XML_ROOTS[root][1](path)
    _check_ids(parsed, path)
    return parsed


def _check_ids(parsed: ParsedList, path: Path) -> None:
    seen: set[str] = set()
    for native_id in parsed.entries.native_ids:
        if not native_id:
            raise UserError(f"{path.name}: a record has no identifier: file corrupted")
        if native_id in seen:
            raise UserError(f"{path.name}: identifier {native_id} appears twice: file corrupted")
        seen.add(native_id)
    parsed.warnings.extend(f"{native_id}: no name" for native_id in parsed.entries.unnamed_ids)
