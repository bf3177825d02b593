"""Where each sanctions list is downloaded from, relative to one configured base URL.

The defaults are the official paths (the local emulator serves the same paths under `/lists`):
OFAC's Sanctions List Service exports, the UN Security Council consolidated XML and the EU
Financial Sanctions Files XML 1.1. A deployment sets the base URL and, where the real hosts differ,
overrides a list's files with absolute URLs; `urljoin` keeps an absolute URL as it is.

The official publishers live on three hosts, so production sets absolute URLs in the extra of the
`kyc_sanctions_lists` connection::

    {"lists": {
        "ofac_sdn": {"sdn.csv": "https://sanctionslistservice.ofac.treas.gov/api/PublicationPreview/exports/SDN.CSV",
                     "add.csv": "https://sanctionslistservice.ofac.treas.gov/api/PublicationPreview/exports/ADD.CSV",
                     "alt.csv": "https://sanctionslistservice.ofac.treas.gov/api/PublicationPreview/exports/ALT.CSV"},
        "un_sc": "https://scsanctions.un.org/resources/xml/en/consolidated.xml",
        "eu_fsf": "https://webgate.ec.europa.eu/fsd/fsf/public/files/xmlFullSanctionsList_1_1/content?token=dG9rZW4tMjAxNw"}}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

from kyc_core.errors import UserError


@dataclass(frozen=True, slots=True)
class ListFile:
    """One file of a list publication: the name the parser expects and where it is downloaded from."""

    name: str
    url: str


@dataclass(frozen=True, slots=True)
class ListSource:
    """A list to refresh: its key, the resilience source it is guarded as, and its files."""

    list_key: str
    source: str
    files: tuple[ListFile, ...]

    @property
    def primary(self) -> str:
        """Name of the file handed to the parser (the directory for a multi-file publication)."""
        return self.files[0].name


#: Default files of each list, relative to the base URL (guard source, ((file name, path), ...)).
#: OFAC publishes the SDN list as a CSV trio; the parser joins aliases and addresses by ent_num.
DEFAULT_LIST_PATHS: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    "ofac_sdn": (
        "ofac",
        (
            ("sdn.csv", "ofac/api/PublicationPreview/exports/SDN.CSV"),
            ("add.csv", "ofac/api/PublicationPreview/exports/ADD.CSV"),
            ("alt.csv", "ofac/api/PublicationPreview/exports/ALT.CSV"),
        ),
    ),
    "un_sc": ("un", (("consolidated.xml", "un/resources/xml/en/consolidated.xml"),)),
    # The token is the public one the EU publishes in its own download link, not a credential.
    "eu_fsf": (
        "eu",
        (("eu_fsf.xml", "eu/fsd/fsf/public/files/xmlFullSanctionsList_1_1/content?token=dG9rZW4tMjAxNw"),),
    ),
}

#: Lists refreshed when the configuration does not choose.
DEFAULT_LIST_KEYS: tuple[str, ...] = ("ofac_sdn", "un_sc", "eu_fsf")


def enabled_lists(extra: Mapping[str, Any] | None = None) -> list[str]:
    """List keys to refresh: `extra["enabled"]` when given, else the defaults; unknown keys are refused."""
    chosen = (extra or {}).get("enabled") or list(DEFAULT_LIST_KEYS)
    if isinstance(chosen, str):
        chosen = [k.strip() for k in chosen.split(",") if k.strip()]
    known = set(DEFAULT_LIST_PATHS) | set((extra or {}).get("lists") or {})
    unknown = [k for k in chosen if k not in known]
    if unknown:
        raise UserError(f"unknown sanctions list(s) in configuration: {', '.join(unknown)}")
    return list(dict.fromkeys(chosen))


def _override_files(list_key: str, value: Any) -> tuple[tuple[str, str], ...]:
    """Files of a list from a connection override: one URL, or {file name: URL} for multi-file lists."""
    if isinstance(value, str):
        default = DEFAULT_LIST_PATHS.get(list_key)
        name = default[1][0][0] if default else f"{list_key}.xml"
        return ((name, value),)
    if isinstance(value, Mapping) and value:
        return tuple((str(name), str(url)) for name, url in value.items())
    raise UserError(f"list {list_key}: URL override must be a URL or a {{file name: URL}} object")


def resolve_source(list_key: str, base_url: str, extra: Mapping[str, Any] | None = None) -> ListSource:
    """The files of one list with absolute URLs: defaults, overridden by `extra["lists"][list_key]`.

    An override may also name the guard source with `extra["sources"][list_key]` (default: the
    default list's source, else the list key's prefix).
    """
    extra = extra or {}
    overrides = extra.get("lists") or {}
    default = DEFAULT_LIST_PATHS.get(list_key)
    if list_key in overrides:
        files = _override_files(list_key, overrides[list_key])
    elif default is not None:
        files = default[1]
    else:
        raise UserError(f"unknown sanctions list {list_key!r}")
    source = (extra.get("sources") or {}).get(list_key) or (default[0] if default else list_key.split("_")[0])
    base = base_url.rstrip("/") + "/"
    return ListSource(list_key, source, tuple(ListFile(name, urljoin(base, path)) for name, path in files))
