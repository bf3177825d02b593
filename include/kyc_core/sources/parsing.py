"""Small tolerant converters shared by the registry parsers (dates, codes, blank strings)."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

_NAF_COMPACT = re.compile(r"^(\d{2})\.?(\d{2})([A-Z])$")
_YEAR_MONTH = re.compile(r"^(\d{4})(?:-(\d{1,2}))?")


def text(value: Any) -> str | None:
    """A stripped string, or None for null, blank and non-string values."""
    if value is None or isinstance(value, (dict, list)):
        return None
    result = str(value).strip()
    return result or None


def parse_date(value: Any) -> date | None:
    """A date from "YYYY-MM-DD" or an ISO date-time ("2020-10-13T00:00:00+02:00"); None when absent or odd."""
    raw = text(value)
    if raw is None or len(raw) < 10:
        return None
    try:
        return date.fromisoformat(raw[:10])
    except ValueError:
        return None


def year_month(value: Any) -> tuple[int | None, int | None]:
    """(year, month) from "1987-09", "1987" or a full date; the register only publishes month precision."""
    raw = text(value)
    if raw is None:
        return None, None
    match = _YEAR_MONTH.match(raw)
    if not match:
        return None, None
    year = int(match.group(1))
    month = int(match.group(2)) if match.group(2) else None
    if month is not None and not 1 <= month <= 12:
        month = None
    return year, month


def naf_dotted(value: Any) -> str | None:
    """NAF rev. 2 code in INSEE's dotted form ("4110A" and "41.10A" both give "41.10A")."""
    raw = text(value)
    if raw is None:
        return None
    match = _NAF_COMPACT.match(raw.upper())
    return f"{match.group(1)}.{match.group(2)}{match.group(3)}" if match else raw


def digits(value: Any) -> str | None:
    """Only the digits of an identifier ("880 878 145" gives "880878145")."""
    raw = text(value)
    if raw is None:
        return None
    only = "".join(ch for ch in raw if ch.isdigit())
    return only or None


def as_float(value: Any) -> float | None:
    """A float from a number or numeric string, None otherwise."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def as_dict(value: Any) -> dict[str, Any]:
    """The value when it is a dict, else an empty dict (sources omit or null whole blocks)."""
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    """The value when it is a list, else an empty list."""
    return value if isinstance(value, list) else []
