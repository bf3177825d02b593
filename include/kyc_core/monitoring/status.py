"""A source's status from its window stats, breaker and freshness, with every breach explained.

healthy: nothing below breaks a threshold. degraded: on the status window availability below
`status.degraded.availability_pct`, p95 above `p95_ms` or error rate above `error_rate_pct`, or data
older than the source's SLA `freshness`. down: the same against `status.down`, or the breaker open.
unknown: nothing reached the source in the status window (no call, no probe): never healthy.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kyc_core.monitoring.config import SlaConfig, format_duration
from kyc_core.monitoring.windows import WindowStats

HEALTHY, DEGRADED, DOWN, UNKNOWN = "healthy", "degraded", "down", "unknown"
#: Severity of an incident by status (down escalates to emergency with time, see incidents).
SEVERITY_OF = {DEGRADED: "warning", DOWN: "critical", UNKNOWN: "warning"}
SEVERITY_RANK = {"warning": 1, "critical": 2, "emergency": 3}


@dataclass(frozen=True)
class Breach:
    """One metric beyond one threshold."""

    level: str  # degraded | down
    metric: str  # availability | p95 | error_rate | freshness | breaker | data
    observed: float | str | None
    threshold: float | str | None
    window: str

    def describe(self) -> str:
        """A line for an e-mail or the CLI."""
        if self.metric == "breaker":
            return "circuit breaker open"
        if self.metric == "data":
            return f"no call and no probe reached the source in the last {self.window}"
        unit = {"availability": " %", "error_rate": " %", "p95": " ms", "freshness": ""}[self.metric]
        sign = "<" if self.metric == "availability" else ">"
        observed, threshold = float(self.observed or 0), float(self.threshold or 0)
        if self.metric == "freshness":
            return f"freshness {format_duration(observed)} > threshold {format_duration(threshold)}"
        return f"{self.metric} {observed:g}{unit} {sign} threshold {threshold:g}{unit} over {self.window}"


@dataclass(frozen=True)
class Evaluation:
    """One source judged at one instant."""

    source: str
    status: str
    breaches: tuple[Breach, ...]
    windows: dict[float, WindowStats]
    breaker_state: str | None
    freshness_s: float | None
    auth_failures: int
    sla: dict[str, bool | None] = field(default_factory=dict)

    @property
    def severity(self) -> str | None:
        """warning, critical or None when healthy."""
        return SEVERITY_OF.get(self.status)

    def metrics(self) -> dict:
        """JSON form stored with the evaluation."""
        return {
            "windows": {format_duration(w): s.as_dict() for w, s in sorted(self.windows.items())},
            "breaches": [b.__dict__ for b in self.breaches],
            "sla_met": self.sla,
            "auth_failures": self.auth_failures,
        }


def _check(stats: WindowStats, level: str, levels, window: str) -> list[Breach]:
    found = []
    availability, error_rate = stats.availability_pct, stats.error_rate_pct
    if availability is not None and availability < levels.availability_pct:
        found.append(Breach(level, "availability", round(availability, 3), levels.availability_pct, window))
    if stats.p95_ms is not None and stats.p95_ms > levels.p95_ms:
        found.append(Breach(level, "p95", round(stats.p95_ms, 1), levels.p95_ms, window))
    if error_rate is not None and error_rate > levels.error_rate_pct:
        found.append(Breach(level, "error_rate", round(error_rate, 3), levels.error_rate_pct, window))
    return found


def sla_met(stats: WindowStats, config: SlaConfig, source: str) -> bool | None:
    """Whether the source met its SLA targets over one window; None when nothing was measured."""
    if stats.measured == 0:
        return None
    targets = config.targets(source)
    return (
        (stats.availability_pct or 0.0) >= targets.availability_pct
        and (stats.p95_ms is None or stats.p95_ms <= targets.p95_ms)
        and (stats.error_rate_pct is None or stats.error_rate_pct <= targets.error_rate_pct)
    )


def evaluate(
    source: str,
    windows: dict[float, WindowStats],
    *,
    breaker_state: str | None,
    freshness_s: float | None,
    config: SlaConfig,
) -> Evaluation:
    """Judge one source on the status window; every window's SLA compliance is reported too."""
    status_window = config.status_window
    stats = windows[status_window]
    label = format_duration(status_window)
    down = _check(stats, "down", config.status.down, label)
    if breaker_state == "open":
        down.insert(0, Breach("down", "breaker", "open", "closed", label))
    degraded = _check(stats, "degraded", config.status.degraded, label)
    freshness_target = config.targets(source).freshness
    if freshness_s is not None and freshness_s > freshness_target:
        degraded.append(Breach("degraded", "freshness", round(freshness_s), freshness_target, "now"))
    if down:
        status, breaches = DOWN, down
    elif stats.measured == 0:
        status, breaches = UNKNOWN, [Breach("unknown", "data", None, None, label)]
    elif degraded:
        status, breaches = DEGRADED, degraded
    else:
        status, breaches = HEALTHY, []
    return Evaluation(
        source=source,
        status=status,
        breaches=tuple(breaches),
        windows=windows,
        breaker_state=breaker_state,
        freshness_s=freshness_s,
        auth_failures=stats.auth_failures,
        sla={format_duration(w): sla_met(s, config, source) for w, s in sorted(windows.items())},
    )
