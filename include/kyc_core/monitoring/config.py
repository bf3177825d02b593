"""SLA and budget configuration: versioned YAML files validated by pydantic, identified by content hash.

Files: ``include/policies/monitoring/sla.yaml`` and ``budget.yaml`` (``KYC_MONITORING_DIR`` points
elsewhere). Durations are written ``30s``, ``15m``, ``1h`` or ``7d``. A file that does not validate
is refused with a one-line error naming the field (:class:`kyc_core.errors.UserError`).
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, model_validator

from kyc_core.policy.loader import _read_yaml, _validate, canonical_json

#: Environment variable naming the directory of `sla.yaml` and `budget.yaml`.
ENV_VAR = "KYC_MONITORING_DIR"
DEFAULT_DIR = Path(__file__).resolve().parents[2] / "policies" / "monitoring"

SEVERITIES = ("warning", "critical", "emergency")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")


def parse_duration(value: Any) -> float:
    """Seconds in `30s`, `15m`, `1h`, `7d` (a bare number is seconds)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(f"invalid duration {value!r} (write e.g. 30s, 15m, 1h, 7d)")
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds <= 0:
        raise ValueError("a duration must be positive")
    return seconds


def format_duration(seconds: float) -> str:
    """The shortest exact label of a duration in s, m or h (900 -> 15m, 86400 -> 24h); whole weeks in d."""
    if seconds >= 7 * 86400 and seconds % 86400 == 0:
        return f"{int(seconds // 86400)}d"
    for unit in ("h", "m"):
        if seconds >= _UNITS[unit] and seconds % _UNITS[unit] == 0:
            return f"{int(seconds // _UNITS[unit])}{unit}"
    return f"{seconds:g}s"


Duration = Annotated[float, BeforeValidator(parse_duration), PlainSerializer(format_duration)]
Pct = Annotated[float, Field(ge=0.0, le=100.0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Levels(_Strict):
    """Thresholds of one status level: worse than any of them reaches the level."""

    availability_pct: Pct
    p95_ms: float = Field(gt=0)
    error_rate_pct: Pct


class StatusThresholds(_Strict):
    """When a source is degraded and when it is down."""

    degraded: Levels
    down: Levels

    @model_validator(mode="after")
    def _down_is_worse(self) -> StatusThresholds:
        if self.down.availability_pct > self.degraded.availability_pct:
            raise ValueError("down.availability_pct must not be above degraded.availability_pct")
        if self.down.p95_ms < self.degraded.p95_ms or self.down.error_rate_pct < self.degraded.error_rate_pct:
            raise ValueError("down thresholds must not be stricter than degraded ones")
        return self


class Targets(_Strict):
    """SLA targets of one source (any field left out comes from the defaults)."""

    availability_pct: Pct | None = None
    p95_ms: float | None = Field(default=None, gt=0)
    error_rate_pct: Pct | None = None
    freshness: Duration | None = None


class FullTargets(_Strict):
    """Resolved SLA targets of one source under the configured tier."""

    availability_pct: Pct
    p95_ms: float = Field(gt=0)
    error_rate_pct: Pct
    freshness: Duration


class Recipients(_Strict):
    """E-mail addresses per severity."""

    warning: list[str] = Field(min_length=1)
    critical: list[str] = Field(min_length=1)
    emergency: list[str] = Field(min_length=1)

    def for_severity(self, severity: str) -> list[str]:
        """Addresses for one severity."""
        return list(getattr(self, severity))


class InfrastructureChecks(_Strict):
    """How the SLA monitor watches our own infrastructure: Redis and the KYC database.

    A live probe each run (Redis PING when `KYC_REDIS_URL` is set, ``SELECT 1`` on the KYC database) and the
    `infrastructure_unavailable` audit events appended since the last check, per component. A failed probe
    opens (or keeps) an incident at `probe_severity`; at least `min_events` new events with the component
    answering open one at `events_severity`; it resolves once the probe answers and no new event appeared
    for `resolve_after`.
    """

    probe_timeout: Duration = 3.0
    probe_attempts: int = Field(default=2, ge=1, le=5)
    lookback: Duration = 24 * 3600
    resolve_after: Duration = 15 * 60
    min_events: int = Field(default=1, ge=1)
    probe_severity: Literal["warning", "critical"] = "critical"
    events_severity: Literal["warning", "critical"] = "warning"


class SlaConfig(_Strict):
    """Content of `sla.yaml`."""

    version: str = Field(min_length=1, max_length=64)
    tier: Literal["standard", "enterprise"]
    windows: list[Duration] = Field(min_length=1, max_length=6)
    reminder_after: Duration = 4 * 3600
    emergency_after: Duration = 3600
    status: StatusThresholds
    defaults: FullTargets
    tiers: dict[Literal["standard", "enterprise"], dict[str, Targets]] = Field(default_factory=dict)
    sources: list[str] = Field(min_length=1)
    recipients: Recipients
    infrastructure: InfrastructureChecks = Field(default_factory=InfrastructureChecks)

    @model_validator(mode="after")
    def _windows_ascending(self) -> SlaConfig:
        if list(self.windows) != sorted(set(self.windows)):
            raise ValueError("windows must be distinct and ascending (the first is the status window)")
        return self

    @property
    def status_window(self) -> float:
        """The window status is judged on."""
        return self.windows[0]

    def targets(self, source: str) -> FullTargets:
        """The SLA targets of `source` under the configured tier."""
        override = self.tiers.get(self.tier, {}).get(source)
        if override is None:
            return self.defaults
        changes = {k: v for k, v in override.model_dump(exclude_none=True).items()}
        merged = {**self.defaults.model_dump(), **changes}
        return FullTargets.model_validate(merged)


class BudgetConfig(_Strict):
    """Content of `budget.yaml`."""

    version: str = Field(min_length=1, max_length=64)
    sources: dict[str, float] = Field(default_factory=dict)
    total: float | None = Field(default=None, gt=0)
    quotas: dict[str, int] = Field(default_factory=dict)
    alert_at_pct: list[Annotated[float, Field(gt=0, le=1000)]] = Field(default_factory=lambda: [80.0, 100.0])
    recipients: list[str] = Field(min_length=1)

    @model_validator(mode="after")
    def _positive(self) -> BudgetConfig:
        for source, amount in self.sources.items():
            if amount <= 0:
                raise ValueError(f"sources.{source}: a budget must be positive")
        return self


class Loaded(BaseModel):
    """A validated configuration with its content hash."""

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    kind: str
    config: Any
    content_hash: str
    raw: dict[str, Any]


def monitoring_dir(directory: Path | str | None = None) -> Path:
    """Where `sla.yaml` and `budget.yaml` are read from."""
    return Path(directory or os.environ.get(ENV_VAR) or DEFAULT_DIR)


def content_hash(raw: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of a configuration file's content."""
    return hashlib.sha256(canonical_json(raw).encode("utf-8")).hexdigest()


def from_raw(kind: str, raw: dict[str, Any], where: str = "") -> Loaded:
    """Validate already-parsed content (a stored configuration or a file's)."""
    model = SlaConfig if kind == "sla" else BudgetConfig
    config = _validate(model, raw, where or f"{kind} configuration")
    return Loaded(kind=kind, config=config, content_hash=content_hash(raw), raw=raw)


def load_sla(directory: Path | str | None = None) -> Loaded:
    """Read and validate `sla.yaml`."""
    path = monitoring_dir(directory) / "sla.yaml"
    return from_raw("sla", _read_yaml(path), str(path))


def load_budget(directory: Path | str | None = None) -> Loaded:
    """Read and validate `budget.yaml`."""
    path = monitoring_dir(directory) / "budget.yaml"
    return from_raw("budget", _read_yaml(path), str(path))
