"""One settings object for every tunable of the domain core, read from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

#: Repository root when running from a checkout (include/kyc_core/settings.py -> repo).
_PACKAGE_ROOT = Path(__file__).resolve().parents[1]


def _env(name: str) -> str | None:
    value = os.environ.get(name)
    return value if value else None


def _env_or(name: str, default: str) -> str:
    return _env(name) or default


@dataclass(frozen=True)
class Settings:
    """Process-wide configuration; build it with :func:`get_settings`, never mutate it."""

    # Where embedded stores (the SQLite file, emulator data) live when nothing else is configured.
    home: Path = field(default_factory=lambda: Path(_env_or("KYC_HOME", ".kyc")).resolve())
    # Persisted screening indexes, one per set of active list versions (any worker rebuilds a missing one).
    screening_index_dir: Path = field(
        default_factory=lambda: Path(_env("KYC_SCREENING_INDEX_DIR") or Path(_env_or("KYC_HOME", ".kyc")) / "screening-index").resolve()
    )
    # SQLAlchemy URL of the KYC database; empty means the embedded SQLite file under `home`.
    database_url: str | None = field(default_factory=lambda: _env("KYC_DATABASE_URL"))
    # Redis URL for breaker, rate-limit and cache state shared by every worker; empty means in-process.
    redis_url: str | None = field(default_factory=lambda: _env("KYC_REDIS_URL"))
    # Directory of the versioned policy YAML files.
    policy_dir: Path = field(
        default_factory=lambda: Path(_env_or("KYC_POLICY_DIR", str(_PACKAGE_ROOT / "policies"))).resolve()
    )
    # Who the CLI records as the actor of audit events it writes.
    actor: str = field(default_factory=lambda: _env_or("KYC_ACTOR", f"cli:{os.environ.get('USER', 'unknown')}"))

    # Airflow user ids allowed to give four-eyes approvals (comma-separated); empty: anyone Airflow lets answer.
    reviewers: tuple[str, ...] = field(
        default_factory=lambda: tuple(u.strip() for u in _env_or("KYC_REVIEWERS", "").split(",") if u.strip())
    )

    # Senior reviewers who decide when the two four-eyes reviewers disagree (comma-separated); empty: the reviewers.
    senior_reviewers: tuple[str, ...] = field(
        default_factory=lambda: tuple(u.strip() for u in _env_or("KYC_SENIOR_REVIEWERS", "").split(",") if u.strip())
    )

    # A decision waiting for a register that could not be consulted: first probe after this many seconds, the wait
    # doubling up to the maximum, and a person decides once the deadline has passed.
    source_retry_first_s: int = field(default_factory=lambda: int(_env_or("KYC_SOURCE_RETRY_FIRST_S", "300")))
    source_retry_max_s: int = field(default_factory=lambda: int(_env_or("KYC_SOURCE_RETRY_MAX_S", "7200")))
    source_retry_deadline_s: int = field(default_factory=lambda: int(_env_or("KYC_SOURCE_RETRY_DEADLINE_S", "21600")))

    # Where compliance notices go, and who sends them.
    compliance_email: str = field(default_factory=lambda: _env_or("KYC_COMPLIANCE_EMAIL", "compliance@localhost"))
    mail_from: str = field(default_factory=lambda: _env_or("KYC_MAIL_FROM", "kyc-airflow@localhost"))

    # Customers per mapped batch of `kyc_perpetual_review`, and per shard of `kyc_full_rescreen` (the DAGs' defaults).
    review_batch_size: int = field(default_factory=lambda: int(_env_or("KYC_REVIEW_BATCH_SIZE", "200")))
    rescreen_shard_size: int = field(default_factory=lambda: int(_env_or("KYC_RESCREEN_SHARD_SIZE", "5000")))

    # A new list version removing more than this many of the active version's entries, or more than this percentage of
    # them (either one), is quarantined: stored but not activated until a person approves it.
    list_quarantine_max_removed: int = field(default_factory=lambda: int(_env_or("KYC_LIST_QUARANTINE_MAX_REMOVED", "50")))
    list_quarantine_max_removed_pct: float = field(
        default_factory=lambda: float(_env_or("KYC_LIST_QUARANTINE_MAX_REMOVED_PCT", "1.0"))
    )
    # A list file larger than this (MB) is refused before parsing (the real OFAC SDN_ADVANCED.XML is about 120 MB).
    list_max_file_mb: float = field(default_factory=lambda: float(_env_or("KYC_LIST_MAX_FILE_MB", "256")))

    @property
    def effective_database_url(self) -> str:
        """The configured URL, or the embedded SQLite file."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.home / 'kyc.db'}"


def get_settings() -> Settings:
    """Read the environment now (tests change it between calls)."""
    return Settings()
