"""Assets the KYC DAGs produce and consume (import-light: DAG files read this at parse time)."""

from __future__ import annotations

from airflow.sdk import Asset

#: Updated when a new version of a sanctions list is activated; `extra` carries versions and delta counts.
ACTIVE_LISTS_ASSET = Asset(name="kyc_sanctions_active_lists", uri="kyc://sanctions/active-lists")
