"""Hooks for the external sources: base URL and credentials from Connections, never from code."""

from __future__ import annotations

from dataclasses import dataclass

from airflow.sdk.bases.hook import BaseHook


@dataclass(frozen=True)
class SourceEndpoint:
    """What a connector needs to reach a source; the secret is masked by Airflow in logs."""

    base_url: str
    login: str | None
    secret: str | None


class _SourceHook(BaseHook):
    """
    A source behind a Connection whose host is the base URL.

    :param conn_id: the Airflow connection id.
    """

    conn_name_attr = "conn_id"

    def __init__(self, conn_id: str | None = None) -> None:
        super().__init__()
        self.conn_id = conn_id or self.default_conn_name

    def get_endpoint(self) -> SourceEndpoint:
        """Base URL (scheme defaults to https) and credentials."""
        conn = self.get_connection(self.conn_id)
        host = (conn.host or "").rstrip("/")
        if not host:
            raise ValueError(f"connection {self.conn_id!r} has no host (the source's base URL)")
        if "://" not in host:
            scheme = conn.schema or "https"
            port = f":{conn.port}" if conn.port else ""
            host = f"{scheme}://{host}{port}"
        return SourceEndpoint(base_url=host, login=conn.login or None, secret=conn.password or None)


class SireneHook(_SourceHook):
    """INSEE Sirene 3.11; the password field holds the API key."""

    default_conn_name = "kyc_sirene"
    conn_type = "insee_sirene"
    hook_name = "INSEE Sirene 3.11"


class RneHook(_SourceHook):
    """INPI RNE (login and password of the INPI account, exchanged for a bearer token)."""

    default_conn_name = "kyc_rne"
    conn_type = "inpi_rne"
    hook_name = "INPI RNE"


class BodaccHook(_SourceHook):
    """BODACC through the Opendatasoft explore API v2.1."""

    default_conn_name = "kyc_bodacc"
    conn_type = "bodacc"
    hook_name = "BODACC (Opendatasoft)"


class SanctionsListHook(_SourceHook):
    """Where the official sanctions list files are downloaded from."""

    default_conn_name = "kyc_sanctions_lists"
    conn_type = "sanctions_list"
    hook_name = "Sanctions list download"
