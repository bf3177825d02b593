"""Assets the KYC DAGs produce and consume (import-light: DAG files read this at parse time)."""

from __future__ import annotations

from airflow.sdk import Asset

#: Updated when a new version of a sanctions list is activated; `extra` carries versions and delta counts.
ACTIVE_LISTS_ASSET = Asset(name="kyc_sanctions_active_lists", uri="kyc://sanctions/active-lists")

#: Updated by `kyc_registry_watch` when a severe register event (liquidation, striking-off, a listed new officer or
#: owner) flags customers; `kyc_perpetual_review` is scheduled on it as well as daily. `extra` carries the customer ids.
REGISTRY_SEVERE_EVENTS_ASSET = Asset(name="kyc_registry_severe_events", uri="kyc://registry/severe-events")
