"""Where each register is reached and with which credentials (filled from Airflow Connections or config)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class SourceAccess:
    """Base URL and credentials of one source; the secret never appears in a repr or a log line."""

    base_url: str
    login: str | None = None
    secret: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class RegistryEndpoints:
    """The three French registers a company lookup reads; RBE rides on the RNE account."""

    sirene: SourceAccess
    rne: SourceAccess
    bodacc: SourceAccess
    #: Whether the RNE account is entitled to beneficial owners (AML-obliged entity since July 2024).
    #: Without it an absent block means "not available", never "none declared".
    rbe_entitled: bool = False

    @classmethod
    def from_emulator(
        cls, urls: Mapping[str, str], credentials: Mapping[str, Any], *, rbe_entitled: bool = True
    ) -> RegistryEndpoints:
        """Endpoints of a local source emulator, from its base URLs and fixed credentials."""
        account = next(a for a in credentials["rne"] if bool(a["beneficial_owners"]) is rbe_entitled)
        return cls(
            sirene=SourceAccess(urls["sirene"], secret=credentials["sirene"]["api_key"]),
            rne=SourceAccess(urls["rne"], login=account["username"], secret=account["password"]),
            bodacc=SourceAccess(urls["bodacc"]),
            rbe_entitled=rbe_entitled,
        )
