"""Refresh one sanctions list: download, validate, store, activate (or quarantine or refuse), describe the change.

Storage, deltas and integrity checks are `kyc_core.lists.versions`: unchanged content makes no new
version; a file that does not parse, holds no entries, holds another list, lost more than a tenth of its
entries or is older than the active one is refused and recorded; one removing too many entries is
quarantined until a person decides. Either way the active version stays active.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from kyc_core.errors import UserError
from kyc_core.lists.detect import parse_path
from kyc_core.lists.download import download_source
from kyc_core.lists.sources import ListSource
from kyc_core.lists.versions import LoadOutcome, record_refusal, store_parsed
from kyc_core.resilience.guard import SourceGuard
from kyc_core.store.db import session_scope

log = logging.getLogger(__name__)

#: What downstream steps need of an outcome (XCom, Asset event extra): ids, hashes and counts.
_SUMMARY_FIELDS = (
    "list_key",
    "status",
    "version_id",
    "previous_version_id",
    "entry_count",
    "added",
    "changed",
    "removed",
    "content_hash",
    "source_format",
    "reason",
)
#: Per-list fields carried by the Asset event extra.
_EXTRA_FIELDS = (
    "version_id",
    "previous_version_id",
    "content_hash",
    "entry_count",
    "added",
    "changed",
    "removed",
)


def store_download(
    list_source: ListSource,
    directory: Path,
    *,
    database_url: str,
    actor: str,
    now: datetime | None = None,
) -> LoadOutcome:
    """Parse the downloaded files of one list and store them as a version, in one transaction."""
    path = directory if len(list_source.files) > 1 else directory / list_source.primary
    uri = list_source.files[0].url
    try:
        parsed = parse_path(path)
        if parsed.list_key != list_source.list_key:
            raise UserError(f"the download holds the {parsed.list_key} list, not {list_source.list_key}")
    except UserError as exc:
        with session_scope(database_url) as session:
            return record_refusal(
                session,
                list_key=list_source.list_key,
                source_format="unknown",
                source_uri=uri,
                reason=str(exc),
                actor=actor,
                now=now,
            )
    parsed.source_uri = uri
    with session_scope(database_url) as session:
        return store_parsed(session, parsed, actor=actor, now=now)


def refresh_list(
    list_source: ListSource,
    *,
    database_url: str,
    guard: SourceGuard,
    actor: str,
    workdir: Path | None = None,
    now: datetime | None = None,
) -> LoadOutcome:
    """Download one list through `guard` into a temporary directory, then store, activate or refuse it.

    Download failures (source down, breaker open, cut-off transfer) raise the classified SourceError
    and write nothing but ledger rows; a file that arrived but cannot be trusted is a recorded refusal.
    """
    with tempfile.TemporaryDirectory(prefix=f"kyc-{list_source.list_key}-", dir=workdir) as tmp:
        asyncio.run(download_source(list_source, Path(tmp), guard))
        outcome = store_download(list_source, Path(tmp), database_url=database_url, actor=actor, now=now)
    log.info(
        "list=%s status=%s version=%s previous=%s entries=%d added=%d changed=%d removed=%d",
        outcome.list_key,
        outcome.status,
        outcome.version_id,
        outcome.previous_version_id,
        outcome.entry_count,
        outcome.added,
        outcome.changed,
        outcome.removed,
    )
    return outcome


def outcome_summary(outcome: LoadOutcome) -> dict[str, Any]:
    """The ids, hashes and counts of an outcome, JSON-ready (what travels through XCom)."""
    data = outcome.as_dict()
    return {key: data.get(key) for key in _SUMMARY_FIELDS}


def asset_extra(outcomes: Iterable[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The extra of the "active lists changed" event, or None when no list was activated."""
    activated = sorted((o for o in outcomes if o.get("status") == "activated"), key=lambda o: o["list_key"])
    if not activated:
        return None
    return {
        "version_ids": [o["version_id"] for o in activated],
        "lists": {o["list_key"]: {key: o.get(key) for key in _EXTRA_FIELDS} for o in activated},
    }
