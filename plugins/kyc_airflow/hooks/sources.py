"""Hooks for the external sources: base URL and credentials from Connections, never from code."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow.sdk.bases.hook import BaseHook

if TYPE_CHECKING:
    from kyc_core.registry import RegistryEndpoints


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
    default_conn_name: str

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


def _truthy(value: Any) -> bool:
    """A connection extra read as a flag ("true", "1", True...)."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def registry_endpoints(
    sirene_conn_id: str = "kyc_sirene", rne_conn_id: str = "kyc_rne", bodacc_conn_id: str = "kyc_bodacc"
) -> RegistryEndpoints:
    """Base URLs and credentials of the registers from their connections (RNE extra `rbe_entitled`)."""
    from kyc_core.registry import RegistryEndpoints, SourceAccess

    def access(endpoint) -> SourceAccess:
        return SourceAccess(endpoint.base_url, login=endpoint.login, secret=endpoint.secret)

    rne_hook = RneHook(rne_conn_id)
    entitled = _truthy(rne_hook.get_connection(rne_conn_id).extra_dejson.get("rbe_entitled", False))
    return RegistryEndpoints(
        sirene=access(SireneHook(sirene_conn_id).get_endpoint()),
        rne=access(rne_hook.get_endpoint()),
        bodacc=access(BodaccHook(bodacc_conn_id).get_endpoint()),
        rbe_entitled=entitled,
    )
