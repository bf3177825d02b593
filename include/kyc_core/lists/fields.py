"""Field normalizers shared by the parsers: countries, published dates, identifier kinds."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from functools import lru_cache

from kyc_core.lists.model import BirthDate

# Spellings used by OFAC, the UN and the EU that the CLDR English names do not cover.
_COUNTRY_ALIASES = {
    "burma": "MM",
    "korea north": "KP",
    "north korea": "KP",
    "democratic peoples republic of korea": "KP",
    "korea democratic peoples republic of": "KP",
    "korea south": "KR",
    "republic of korea": "KR",
    "korea republic of": "KR",
    "palestinian": "PS",
    "palestine": "PS",
    "state of palestine": "PS",
    "west bank": "PS",
    "gaza": "PS",
    "congo democratic republic of the": "CD",
    "democratic republic of the congo": "CD",
    "congo republic of the": "CG",
    "republic of the congo": "CG",
    "congo": "CG",
    "russian federation": "RU",
    "iran islamic republic of": "IR",
    "syrian arab republic": "SY",
    "libyan arab jamahiriya": "LY",
    "lao peoples democratic republic": "LA",
    "viet nam": "VN",
    "united republic of tanzania": "TZ",
    "bolivia plurinational state of": "BO",
    "venezuela bolivarian republic of": "VE",
    "republic of moldova": "MD",
    "macedonia": "MK",
    "the former yugoslav republic of macedonia": "MK",
    "czech republic": "CZ",
    "turkey": "TR",
    "cote divoire": "CI",
    "ivory coast": "CI",
    "bosnia and herzegovina": "BA",
    "united states of america": "US",
    "usa": "US",
    "united kingdom of great britain and northern ireland": "GB",
    "hong kong": "HK",
    "macau": "MO",
    "macao": "MO",
    "swaziland": "SZ",
    "east timor": "TL",
    "holy see": "VA",
    "brunei darussalam": "BN",
    "cabo verde": "CV",
    "micronesia federated states of": "FM",
    "saint kitts and nevis": "KN",
    "saint lucia": "LC",
    "saint vincent and the grenadines": "VC",
    "trinidad and tobago": "TT",
    "antigua and barbuda": "AG",
    "sao tome and principe": "ST",
    "region crimea": "UA",
    "north macedonia the republic of": "MK",
    "the gambia": "GM",
    "gambia the": "GM",
    "bahamas the": "BS",
    "the bahamas": "BS",
    "man isle of": "IM",
}

# EU and UK files use these codes for "unknown" or "stateless"; they are not countries.
_NOT_COUNTRIES = {"00", "ZZ", "XX", "undetermined", "unknown", ""}


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    text = text.replace("&", " and ").replace("’", "").replace("'", "")
    text = re.sub(r"[^a-z0-9]+", " ", text)
    return re.sub(r"\s+", " ", text).strip()


@lru_cache(maxsize=1)
def _country_table() -> dict[str, str]:
    table: dict[str, str] = {}
    try:
        # CLDR English territory names, shipped with Babel; hand-writing 250 names would rot.
        from babel import Locale

        for code, name in Locale("en").territories.items():
            if len(code) == 2 and code.isalpha() and code not in {"EU", "EZ", "UN", "ZZ", "XA", "XB", "QO"}:
                table[_fold(name)] = code
                table[_fold(re.sub(r"\s*\(.*\)", "", name))] = code
    except ImportError:
        pass
    table.update(_COUNTRY_ALIASES)
    return table


def country_code(text: str | None) -> str | None:
    """ISO 3166 alpha-2 for a country name or code as lists publish it; None when unknown or blank."""
    if text is None:
        return None
    raw = text.strip()
    if raw in _NOT_COUNTRIES or raw.lower() in _NOT_COUNTRIES:
        return None
    if len(raw) == 2 and raw.isalpha():
        return raw.upper()
    return _country_table().get(_fold(raw))


def country_value(text: str | None) -> str | None:
    """The ISO code when it resolves, otherwise the published text (never lose what the list says)."""
    if text is None or not text.strip():
        return None
    code = country_code(text)
    if code:
        return code
    raw = text.strip()
    return None if raw.lower() in _NOT_COUNTRIES else raw


def clean(text: str | None) -> str | None:
    """Collapse whitespace; None for blank and for OFAC's `-0-` null."""
    if text is None:
        return None
    value = " ".join(text.split())
    if not value or value == "-0-":
        return None
    return value


_MONTHS = {
    m: i
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}
_DMY = re.compile(r"^(\d{1,2}) ([A-Za-z]{3})[a-z]* (\d{4})$")
_MY = re.compile(r"^([A-Za-z]{3})[a-z]* (\d{4})$")
_Y = re.compile(r"^(\d{4})$")
_ISO = re.compile(r"^(\d{4})-(\d{2})(?:-(\d{2}))?")
_SLASH = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_YEAR_SPAN = re.compile(r"^(\d{4})\s*-\s*(\d{4})$")


def _single_date(text: str) -> tuple[int, int | None, int | None] | None:
    text = text.strip()
    if m := _DMY.match(text):
        month = _MONTHS.get(m.group(2).lower())
        return (int(m.group(3)), month, int(m.group(1))) if month else None
    if m := _MY.match(text):
        month = _MONTHS.get(m.group(1).lower())
        return (int(m.group(2)), month, None) if month else None
    if m := _Y.match(text):
        return int(m.group(1)), None, None
    if m := _ISO.match(text):
        return int(m.group(1)), int(m.group(2)), int(m.group(3)) if m.group(3) else None
    if m := _SLASH.match(text):
        # EU and UK publish day/month/year; OFAC's legacy header is the only MM/DD user and is parsed apart.
        return int(m.group(3)), int(m.group(2)), int(m.group(1))
    return None


def parse_birth_date(text: str) -> BirthDate:
    """Parse the date shapes the lists publish: `06 Jun 1956`, `Jun 1956`, `1962`, `1952-10-07`, `circa 1960`, `1960 to 1962`."""
    raw = " ".join(text.split())
    body = raw
    approximate = False
    lowered = body.lower()
    for prefix in ("circa ", "approximately ", "approx. ", "about ", "c. "):
        if lowered.startswith(prefix):
            approximate = True
            body = body[len(prefix) :]
            break
    if m := _YEAR_SPAN.match(body):
        body = f"{m.group(1)} to {m.group(2)}"
    if " to " in body:
        start_text, end_text = body.split(" to ", 1)
        start, end = _single_date(start_text), _single_date(end_text)
        if start and end:
            return BirthDate(
                text=raw,
                year=start[0],
                month=None,
                day=None,
                precision="range",
                year_to=end[0],
                approximate=approximate,
            )
    parts = _single_date(body)
    if not parts:
        return BirthDate(text=raw, approximate=approximate)
    year, month, day = parts
    if not _plausible(year, month, day):
        return BirthDate(text=raw, approximate=approximate)
    precision = "day" if day else "month" if month else "year"
    return BirthDate(text=raw, year=year, month=month, day=day, precision=precision, approximate=approximate)


def _plausible(year: int, month: int | None, day: int | None) -> bool:
    if not 1800 <= year <= 2100:
        return False
    if month is not None and not 1 <= month <= 12:
        return False
    return day is None or 1 <= day <= 31


def parse_timestamp(text: str | None) -> datetime | None:
    """An ISO timestamp or date as a UTC datetime (naive values are taken as UTC)."""
    if not text or not text.strip():
        return None
    value = text.strip().replace("Z", "+00:00")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


# Source wording -> identifier kind. Longest labels are tried first so "Diplomatic Passport" wins over "Passport".
_ID_LABELS = {
    "passport": "passport",
    "diplomatic passport": "passport",
    "national id no.": "national_id",
    "national id": "national_id",
    "national identification number": "national_id",
    "identification number": "national_id",
    "personal id card": "national_id",
    "cedula no.": "national_id",
    "d.n.i.": "national_id",
    "c.u.r.p.": "national_id",
    "ssn": "national_id",
    "national foreign id number": "national_id",
    "citizen's card number": "national_id",
    "kenyan id no.": "national_id",
    "id": "national_id",
    "tax id no.": "tax_id",
    "r.f.c.": "tax_id",
    "v.a.t. number": "tax_id",
    "nit #": "tax_id",
    "ruc #": "tax_id",
    "c.u.i.t.": "tax_id",
    "c.u.i.p.": "tax_id",
    "registration number": "registration",
    "registration id": "registration",
    "business registration number": "registration",
    "business registration document #": "registration",
    "company number": "registration",
    "commercial registry number": "registration",
    "government gazette number": "registration",
    "legal entity number": "registration",
    "unified social credit code (uscc)": "registration",
    "public registration number": "registration",
    "economic register number (cbls)": "registration",
    "trade license no.": "registration",
    "folio mercantil no.": "registration",
    "matricula mercantil no": "registration",
    "c.r. no.": "registration",
    "license": "registration",
    "swift/bic": "bic",
    "bic": "bic",
    "vessel registration identification": "imo",
    "imo": "imo",
    "mmsi": "mmsi",
    "aircraft tail number": "aircraft",
    "aircraft manufacturer's serial number (msn)": "aircraft",
    "isin": "isin",
    "email address": "email",
    "website": "website",
}
_ID_LABELS_BY_LENGTH = sorted(_ID_LABELS, key=len, reverse=True)


def identifier_kind(label: str) -> str:
    """Map a source's document-type wording to an identifier kind (`other` when unknown)."""
    lowered = " ".join(label.lower().split())
    if lowered.startswith("digital currency address"):
        return "crypto"
    if lowered in _ID_LABELS:
        return _ID_LABELS[lowered]
    if "passport" in lowered:
        return "passport"
    if "swift" in lowered or "bic" == lowered:
        return "bic"
    if "imo" in lowered.split():
        return "imo"
    if "tax" in lowered or "vat" in lowered:
        return "tax_id"
    if lowered.startswith("nationality of registration"):
        return "other"
    if "registration" in lowered or "registry" in lowered or "register" in lowered:
        return "registration"
    if "national" in lowered or "identity" in lowered or "identification" in lowered:
        return "national_id"
    return "other"


def split_identifier_label(text: str) -> tuple[str, str] | None:
    """Split `Passport 1084010` into (label, rest) when it starts with a known identifier label."""
    lowered = text.lower()
    if lowered.startswith("digital currency address - "):
        label_end = len("digital currency address - ")
        currency, _, number = text[label_end:].partition(" ")
        return text[: label_end + len(currency)], number
    for label in _ID_LABELS_BY_LENGTH:
        if lowered.startswith(label + " ") and len(label) > 2:
            return text[: len(label)], text[len(label) + 1 :]
    return None
