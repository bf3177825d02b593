"""Task bodies of `kyc_sanctions_refresh` and `kyc_sanctions_delta_screening`; each delegates to the domain core.

Only list keys, version ids, hashes and counts travel through XCom and the Asset event; logs carry ids.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from kyc_airflow.assets import ACTIVE_LISTS_ASSET
from kyc_airflow.runtime import actor_for, kyc_database_url, run_id_of

log = logging.getLogger(__name__)

__all__ = ["ACTIVE_LISTS_ASSET"]


def _lists_endpoint(conn_id: str | None = None) -> tuple[str, dict[str, Any]]:
    """Base URL and extra of the sanctions list connection."""
    from kyc_airflow.hooks.sources import SanctionsListHook

    hook = SanctionsListHook(conn_id)
    endpoint = hook.get_endpoint()
    return endpoint.base_url, hook.get_connection(hook.conn_id).extra_dejson


def plan_lists(conn_id: str | None = None) -> list[str]:
    """Keys of the lists to refresh: the connection extra's `enabled`, else the defaults."""
    from kyc_core.lists.sources import enabled_lists, resolve_source

    base_url, extra = _lists_endpoint(conn_id)
    keys = enabled_lists(extra)
    for key in keys:
        # Refuse a broken override now, before any download starts.
        resolve_source(key, base_url, extra)
    log.info("lists to refresh: %s", ", ".join(keys))
    return keys


def refresh_one(list_key: str, context: dict[str, Any], conn_id: str | None = None) -> dict[str, Any]:
    """Download, validate, store and activate one list; a refused file fails the task after it is recorded.

    A quarantined version is no failure of the download: it is recorded and audited, and `review_quarantine`
    asks a person about it.
    """
    from airflow.sdk.exceptions import AirflowFailException
    from kyc_core.lists.refresh import outcome_summary, refresh_list
    from kyc_core.lists.sources import resolve_source
    from kyc_core.resilience import CallContext, build_guard

    base_url, extra = _lists_endpoint(conn_id)
    source = resolve_source(list_key, base_url, extra)
    database_url = kyc_database_url()
    ti = context.get("ti")
    guard = build_guard(
        source.source,
        database_url=database_url,
        context=CallContext(run_id=run_id_of(context), task_id=getattr(ti, "task_id", None)),
    )
    outcome = refresh_list(source, database_url=database_url, guard=guard, actor=actor_for(context))
    if outcome.status == "refused":
        # Recorded and audited; failing makes on-call look at it while the previous version keeps serving.
        raise AirflowFailException(f"{list_key}: version {outcome.version_id} refused: {outcome.reason}")
    if outcome.status == "quarantined":
        log.warning("%s: version %s quarantined, not activated: %s", list_key, outcome.version_id, outcome.reason)
    return outcome_summary(outcome)


def quarantined_version_ids() -> list[int]:
    """Ids of every version waiting for a person (from this run or an earlier one nobody answered)."""
    from kyc_core.lists.versions import quarantined_versions
    from kyc_core.store.db import session_scope

    with session_scope(kyc_database_url()) as session:
        ids = [row["version_id"] for row in quarantined_versions(session)]
    log.info("quarantined list versions: %s", ids or "none")
    return ids


def publish_changes(outcomes: Iterable[Mapping[str, Any]], context: dict[str, Any]) -> dict[str, Any]:
    """Attach what changed to the Asset event, or skip (no event) when no list was activated."""
    from airflow.sdk.exceptions import AirflowSkipException
    from kyc_core.lists.refresh import asset_extra

    extra = asset_extra(o for o in outcomes if o)
    if extra is None:
        raise AirflowSkipException("no list changed: no asset event")
    context["outlet_events"][ACTIVE_LISTS_ASSET].extra = extra
    log.info("activated list versions: %s", extra["version_ids"])
    return extra


def versions_to_screen(context: dict[str, Any], requested: Iterable[int] = ()) -> list[int]:
    """Versions named by the triggering events or the run's conf, plus any activated version never screened."""
    from airflow.sdk.exceptions import AirflowFailException
    from kyc_core.errors import UserError
    from kyc_core.rescreen.delta import version_ids_from_extras
    from kyc_core.rescreen.delta import versions_to_screen as plan

    events = context.get("triggering_asset_events") or {}
    extras = [event.extra for batch in events.values() for event in batch]
    named = set(version_ids_from_extras(extras)) | {int(v) for v in requested}
    try:
        wanted = plan(kyc_database_url(), named)
    except UserError as exc:
        # A wrong id in a manual run's conf: retrying cannot fix it.
        raise AirflowFailException(str(exc)) from None
    log.info("versions from events/conf: %s; never screened: %s", sorted(named), sorted(set(wanted) - named))
    return wanted


def screen_delta(version_ids: list[int], context: dict[str, Any]) -> dict[str, Any]:
    """Screen the versions' added and changed entries against every customer; the counts."""
    from kyc_core.rescreen.delta import delta_rescreen

    if not version_ids:
        log.info("nothing to screen")
        return {"version_ids": [], "hits": 0, "new_hits": 0, "customers_flagged": 0}
    summary = delta_rescreen(
        kyc_database_url(), version_ids, actor=actor_for(context), run_id=run_id_of(context)
    )
    log.info(
        "versions=%s subjects=%d entries=%d hits=%d new_hits=%d suppressed=%d customers_flagged=%d",
        summary["version_ids"],
        summary["subjects_screened"],
        summary["entries_screened"],
        summary["hits"],
        summary["new_hits"],
        summary["suppressed"],
        summary["customers_flagged"],
    )
    return {
        k: summary[k]
        for k in ("version_ids", "entries_screened", "hits", "new_hits", "suppressed", "customers_flagged")
    }
