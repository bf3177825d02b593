"""Window arithmetic over the call ledger: which calls count, availability, error rate, p95, freshness.

What a `source_call` row counts as (the one home of this rule; the SQL below is built from it):

* not a call to the source, left out: `cache_hit` (answered from our cache), `circuit_open` (our
  breaker refused before calling), `rate_limited` (our own limiter refused before calling);
* an answer: `ok`, and `not_found` (a 404 for an unknown SIREN is the source answering);
* our own fault, left out of availability and counted apart: an `error` with HTTP 401/403 or the
  class `SourceUnusable` (credentials or configuration refused), its own alert type;
* a source failure: every other `error` (5xx, malformed or truncated body, connection reset, a 429
  quota answer) and every `timeout`.

Over a window [now - length, now):

* availability = answers / (answers + failures), real calls and canary probes together;
* error rate = failed real calls / real calls (probes left out: it is what customers experienced);
* p95 = nearest-rank 95th percentile of the latency of every call reaching the source, probes
  included: the smallest latency x such that at least 95 % of the calls took x or less
  (PostgreSQL's ``percentile_disc(0.95)``), i.e. the ceil(0.95 n)-th value in ascending order.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, not_, or_, select
from sqlalchemy.orm import Session

from kyc_core.store.models import SourceCall

#: Operation name of canary probe rows in the ledger.
PROBE = "probe"
NOT_CALLS = ("cache_hit", "circuit_open", "rate_limited")
ANSWERS = ("ok", "not_found")
AUTH_STATUSES = (401, 403)
AUTH_CLASSES = ("SourceUnusable",)
P95 = 0.95


def classify(outcome: str, http_status: int | None, error_class: str | None) -> str:
    """`excluded`, `answer`, `auth` or `failure` for one ledger row."""
    if outcome in NOT_CALLS:
        return "excluded"
    if outcome in ANSWERS:
        return "answer"
    if outcome == "error" and (http_status in AUTH_STATUSES or error_class in AUTH_CLASSES):
        return "auth"
    return "failure"


def nearest_rank(values: Iterable[float], q: float = P95) -> float | None:
    """The nearest-rank q-quantile: the ceil(q n)-th smallest value; None without values."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class WindowStats:
    """What one source did over one window."""

    window_s: float
    # Rows reaching the source (answers + failures + auth), real calls and probes.
    calls: int
    probes: int
    answers: int
    failures: int
    auth_failures: int
    real_calls: int
    real_failures: int
    p95_ms: float | None

    @property
    def measured(self) -> int:
        """Rows availability is computed over."""
        return self.answers + self.failures

    @property
    def availability_pct(self) -> float | None:
        """Answers over answers + failures, in percent; None when nothing was measured."""
        return 100.0 * self.answers / self.measured if self.measured else None

    @property
    def error_rate_pct(self) -> float | None:
        """Failed real calls over real calls, in percent; None without real calls."""
        return 100.0 * self.real_failures / self.real_calls if self.real_calls else None

    def as_dict(self) -> dict:
        """JSON form stored with the evaluation."""
        data = asdict(self)
        data["availability_pct"] = _round(self.availability_pct)
        data["error_rate_pct"] = _round(self.error_rate_pct)
        data["p95_ms"] = _round(self.p95_ms)
        return data


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


@dataclass(frozen=True)
class Row:
    """The fields of a ledger row the arithmetic reads (synthetic ledgers in tests, SQLite)."""

    started_at: datetime
    outcome: str
    latency_ms: float
    http_status: int | None = None
    error_class: str | None = None
    operation: str = "call"


def stats_from_rows(rows: Iterable[Row], now: datetime, window_s: float) -> WindowStats:
    """Stats of one source over [now - window, now) from its rows, in Python."""
    start = now - timedelta(seconds=window_s)
    counts = {"answer": 0, "failure": 0, "auth": 0}
    probes = real = real_failures = 0
    latencies: list[float] = []
    for row in rows:
        if not (start <= row.started_at < now):
            continue
        kind = classify(row.outcome, row.http_status, row.error_class)
        if kind == "excluded":
            continue
        counts[kind] += 1
        latencies.append(row.latency_ms)
        if row.operation == PROBE:
            probes += 1
        else:
            real += 1
            real_failures += kind == "failure"
    return WindowStats(
        window_s=window_s,
        calls=sum(counts.values()),
        probes=probes,
        answers=counts["answer"],
        failures=counts["failure"],
        auth_failures=counts["auth"],
        real_calls=real,
        real_failures=real_failures,
        p95_ms=nearest_rank(latencies),
    )


# --- the same rule in SQL, for the ledger in the database ---------------------------------------------


def _is_call():
    return SourceCall.outcome.not_in(NOT_CALLS)


def _is_answer():
    return SourceCall.outcome.in_(ANSWERS)


def _is_auth():
    return and_(
        SourceCall.outcome == "error",
        or_(
            SourceCall.http_status.in_(AUTH_STATUSES),
            func.coalesce(SourceCall.error_class, "").in_(AUTH_CLASSES),
        ),
    )


def _is_failure():
    return and_(_is_call(), not_(_is_answer()), not_(_is_auth()))


def _count(condition: Any) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def ledger_stats(
    session: Session, sources: Iterable[str], now: datetime, windows: Iterable[float]
) -> dict[str, dict[float, WindowStats]]:
    """Stats of every source over every window, read from `source_call` in one pass per source."""
    sources = list(sources)
    windows = sorted(windows)
    longest = now - timedelta(seconds=windows[-1])
    postgres = session.get_bind().dialect.name == "postgresql"
    result: dict[str, dict[float, WindowStats]] = {s: {} for s in sources}
    if not sources:
        return result
    columns: list[Any] = [SourceCall.source]
    for w in windows:
        inside = and_(SourceCall.started_at >= now - timedelta(seconds=w), _is_call())
        probe = SourceCall.operation == PROBE
        columns += [
            _count(and_(inside, _is_answer())),
            _count(and_(inside, _is_failure())),
            _count(and_(inside, _is_auth())),
            _count(and_(inside, probe)),
            _count(and_(inside, not_(probe))),
            _count(and_(inside, not_(probe), _is_failure())),
        ]
        if postgres:
            columns.append(func.percentile_disc(P95).within_group(SourceCall.latency_ms.asc()).filter(inside))
    query = (
        select(*columns)
        .where(SourceCall.source.in_(sources), SourceCall.started_at >= longest, SourceCall.started_at < now)
        .group_by(SourceCall.source)
    )
    seen = set()
    for row in session.execute(query):
        seen.add(row[0])
        values = list(row[1:])
        per = 7 if postgres else 6
        for i, w in enumerate(windows):
            answers, failures, auth, probes, real, real_failures = (
                int(v) for v in values[i * per : i * per + 6]
            )
            p95 = (
                values[i * per + 6]
                if postgres
                else _p95_sqlite(session, row[0], now, w, answers + failures + auth)
            )
            result[row[0]][w] = WindowStats(
                window_s=w,
                calls=answers + failures + auth,
                probes=probes,
                answers=answers,
                failures=failures,
                auth_failures=auth,
                real_calls=real,
                real_failures=real_failures,
                p95_ms=float(p95) if p95 is not None else None,
            )
    for source in sources:
        if source not in seen:
            result[source] = {w: WindowStats(w, 0, 0, 0, 0, 0, 0, 0, None) for w in windows}
    return result


def _p95_sqlite(session: Session, source: str, now: datetime, window_s: float, n: int) -> float | None:
    """Nearest-rank p95 where the database has no percentile function: the ceil(0.95 n)-th latency."""
    if n == 0:
        return None
    rank = max(1, math.ceil(P95 * n))
    return session.scalar(
        select(SourceCall.latency_ms)
        .where(
            SourceCall.source == source,
            SourceCall.started_at >= now - timedelta(seconds=window_s),
            SourceCall.started_at < now,
            _is_call(),
        )
        .order_by(SourceCall.latency_ms)
        .limit(1)
        .offset(rank - 1)
    )


def last_answer_at(
    session: Session, sources: Iterable[str], now: datetime, *, include_probes: bool = True
) -> dict[str, datetime | None]:
    """When each source last answered (calls and, unless told otherwise, probes): what freshness is measured from.

    One query per source, so PostgreSQL walks the (source, started_at) index backwards and stops at the
    first answer instead of reading the whole ledger.
    """
    found: dict[str, datetime | None] = {}
    for source in sources:
        query = select(func.max(SourceCall.started_at)).where(
            SourceCall.source == source, _is_answer(), SourceCall.started_at < now
        )
        if not include_probes:
            query = query.where(SourceCall.operation != PROBE, SourceCall.outcome == "ok")
        found[source] = as_utc(session.scalar(query))
    return found


def utc(moment: datetime) -> datetime:
    """`moment` as an aware UTC datetime (SQLite hands back naive ones; everything is written in UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def as_utc(moment: datetime | None) -> datetime | None:
    """An aware UTC datetime (SQLite hands back naive ones; everything is written in UTC)."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
