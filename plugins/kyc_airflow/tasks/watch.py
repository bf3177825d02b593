"""Task bodies of `kyc_registry_watch`: each reads Airflow's context and delegates to `kyc_core.watch`.

Only counts, dates, ids and statuses travel through XCom and the asset event; logs carry ids.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from kyc_airflow.assets import REGISTRY_SEVERE_EVENTS_ASSET
from kyc_airflow.runtime import actor_for, kyc_database_url, run_id_of

log = logging.getLogger(__name__)


def _options(params: Mapping[str, Any] | None) -> Any:
    from kyc_core.watch.run import WatchOptions

    params = params or {}
    max_companies = params.get("max_companies")
    now = bool(params.get("refetch_all"))
    return WatchOptions(
        batch_size=int(params.get("batch_size") or WatchOptions.batch_size),
        initial_lookback_days=int(params.get("initial_lookback_days") or WatchOptions.initial_lookback_days),
        max_companies=int(max_companies) if max_companies else None,
        cadence_days=0 if now else WatchOptions.cadence_days,
        max_age_s=0.0 if now else WatchOptions.max_age_s,
    )


def bodacc_notices(context: dict[str, Any]) -> dict[str, Any]:
    """BODACC notices since the watermark for the monitored SIRENs; the watermark stays when a batch was unread."""
    from kyc_core.watch.run import watch_bodacc

    from kyc_airflow.hooks.sources import registry_endpoints

    summary = watch_bodacc(kyc_database_url(), registry_endpoints(), actor=actor_for(context),
                           run_id=run_id_of(context), options=_options(context.get("params")))
    log.info("bodacc since=%s until=%s status=%s batches=%d/%d notices=%d new_events=%d watermark=%s",
             summary["since"], summary["until"], summary["status"], summary["batches_read"], summary["batches"],
             summary["notices"], summary["events_new"], summary["watermark"])
    return summary


def register_changes(context: dict[str, Any]) -> dict[str, Any]:
    """Re-fetch the due companies from Sirene and the RNE and compare them with their last compared answers."""
    from kyc_core.watch.run import watch_registers

    from kyc_airflow.hooks.sources import registry_endpoints

    summary = watch_registers(kyc_database_url(), registry_endpoints(), actor=actor_for(context),
                              run_id=run_id_of(context), options=_options(context.get("params")))
    log.info("registers companies=%d due=%d checked=%d changed=%d baselines=%d new_events=%d unavailable=%s",
             summary["companies"], summary["due"], summary["checked"], summary["changed"], summary["baselines"],
             summary["events_new"], summary["unavailable"])
    return summary


def publish_severe(context: dict[str, Any]) -> dict[str, Any]:
    """Emit the asset event with the customers of this run's severe events, or skip (no event) when none."""
    from airflow.sdk.exceptions import AirflowSkipException
    from kyc_core.watch.run import severe_of_run

    extra = severe_of_run(kyc_database_url(), run_id_of(context) or "")
    if not extra["customer_ids"]:
        raise AirflowSkipException("no severe register event: no asset event")
    context["outlet_events"][REGISTRY_SEVERE_EVENTS_ASSET].extra = extra
    log.info("severe events %s for customers %s", [e["id"] for e in extra["events"]], extra["customer_ids"])
    return extra


def check_sources(context: dict[str, Any]) -> dict[str, Any]:
    """Fail the run when a source could not be read (its watermark did not move); the unread sources otherwise."""
    from airflow.sdk.exceptions import AirflowFailException

    ti = context["ti"]
    bodacc: Mapping[str, Any] | None = ti.xcom_pull(task_ids="bodacc_notices")
    registers: Mapping[str, Any] | None = ti.xcom_pull(task_ids="register_changes")
    unread = []
    if not bodacc or bodacc.get("status") != "ok":
        unread.append(f"bodacc ({(bodacc or {}).get('error') or 'task failed'}; watermark kept at "
                      f"{(bodacc or {}).get('watermark')})")
    if not registers:
        unread.append("sirene/rne (task failed)")
    else:
        unread += [f"{source} ({count} compan{'y' if count == 1 else 'ies'})"
                   for source, count in registers.get("unavailable", {}).items() if count]
    if unread:
        raise AirflowFailException("not read, to be read again next run: " + ", ".join(unread))
    return {"unread": []}
