"""SQLAlchemy 2 models of the KYC database (never Airflow's metadata database)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Stable constraint names so Alembic migrations are identical on SQLite and Postgres.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Integer primary keys autoincrement on SQLite only as INTEGER, on Postgres BIGINT is preferred.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    """Declarative base carrying the naming convention."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class Customer(Base):
    """A natural person or legal entity under KYC, identified by its business reference."""

    __tablename__ = "customer"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    # The integrator's reference (or a hash of the validated input when none was given).
    customer_ref: Mapped[str] = mapped_column(String(128), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # person | entity
    segment: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str | None] = mapped_column(String(32))
    siren: Mapped[str | None] = mapped_column(String(9), index=True)
    identifiers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Validated input as received; personal data stays in the database, never in logs.
    profile: Mapped[dict[str, Any]] = mapped_column(default=dict)
    input_hash: Mapped[str] = mapped_column(String(64))
    risk_level: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(32), default="new")
    flagged_for_review: Mapped[bool] = mapped_column(Boolean, default=False)
    next_review_date: Mapped[date | None] = mapped_column(Date, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ReviewFlag(Base):
    """Why a customer is queued for re-review; open until a perpetual-review run clears it."""

    __tablename__ = "review_flag"
    __table_args__ = (Index("ix_review_flag_open", "cleared_at", "customer_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customer.id"), index=True)
    # list_change | registry_event | manual (see kyc_core.store.flags.FLAG_REASONS)
    reason: Mapped[str] = mapped_column(String(32))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    actor: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    cleared_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The run (or actor) whose review cleared the flag.
    cleared_by: Mapped[str | None] = mapped_column(String(250))


class ReviewItem(Base):
    """One customer selected by a perpetual-review run: its batch, why, and what its review found."""

    __tablename__ = "review_item"
    __table_args__ = (Index("ix_review_item_run_batch", "run_id", "batch_no"),)

    run_id: Mapped[str] = mapped_column(String(250), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customer.id"), primary_key=True)
    batch_no: Mapped[int] = mapped_column(Integer)
    # periodic | registry_event | list_change | manual: the reason recorded with the assessment.
    purpose: Mapped[str] = mapped_column(String(32))
    reasons: Mapped[list[Any]] = mapped_column(default=list)
    # The newest open flag when selected: the review clears flags up to it, a later one stays open.
    flag_up_to: Mapped[int | None] = mapped_column(BigId)
    selected_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decision_id: Mapped[str | None] = mapped_column(String(36))
    outcome: Mapped[str | None] = mapped_column(String(16))
    decision_written: Mapped[bool | None] = mapped_column(Boolean)


class AssessmentStage(Base):
    """What one stage of an assessment found (register answers, resolution, screening, score); working state
    keyed on the decision id, so a cleared stage re-runs from what the earlier stages stored (no register call)."""

    __tablename__ = "assessment_stage"
    __table_args__ = (UniqueConstraint("decision_id", "stage", name="uq_assessment_stage_decision_stage"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    decision_id: Mapped[str] = mapped_column(String(36))
    customer_id: Mapped[str] = mapped_column(ForeignKey("customer.id"))
    run_id: Mapped[str] = mapped_column(String(250))
    # fetch:<register> | resolve | screen | score | paid
    stage: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RegistrySnapshot(Base):
    """A raw answer from a register, kept verbatim with its content hash."""

    __tablename__ = "registry_snapshot"
    __table_args__ = (UniqueConstraint("source", "request_key", "content_hash", name="uq_registry_snapshot_content"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(32))
    operation: Mapped[str] = mapped_column(String(64))
    request_key: Mapped[str] = mapped_column(String(128), index=True)
    customer_id: Mapped[str | None] = mapped_column(ForeignKey("customer.id"), index=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)
    http_status: Mapped[int | None] = mapped_column(Integer)
    from_cache: Mapped[bool] = mapped_column(Boolean, default=False)
    fetched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    run_id: Mapped[str | None] = mapped_column(String(250))


class RegistryEvent(Base):
    """A register event about a monitored company (a BODACC notice, a change between two snapshots), once each."""

    __tablename__ = "registry_event"
    __table_args__ = (
        UniqueConstraint("siren", "event_type", "evidence_key", name="uq_registry_event_evidence"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    siren: Mapped[str] = mapped_column(String(9), index=True)
    # liquidation | receivership | safeguard | collective_other | striking_off | sale | officer_in | officer_out
    # | owner_in | owner_out | ceased | office_abroad | naf_sensitive (kyc_core.watch.events.EventKind)
    event_type: Mapped[str] = mapped_column(String(32))
    # The notice id, or "<source>:<snapshot before>:<snapshot after>": what makes the event this one.
    evidence_key: Mapped[str] = mapped_column(String(128))
    source: Mapped[str] = mapped_column(String(16))  # bodacc | sirene | rne | rbe
    severe: Mapped[bool] = mapped_column(Boolean, default=False)
    notice_id: Mapped[str | None] = mapped_column(String(64))
    snapshot_before_id: Mapped[int | None] = mapped_column(ForeignKey("registry_snapshot.id"))
    snapshot_after_id: Mapped[int | None] = mapped_column(ForeignKey("registry_snapshot.id"))
    event_date: Mapped[date | None] = mapped_column(Date)
    # Ids and codes only: kinds, subject keys, hit list/entry ids, NAF and country codes.
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    customer_ids: Mapped[list[Any]] = mapped_column(default=list)
    detected_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    run_id: Mapped[str | None] = mapped_column(String(250))


class SourceWatermark(Base):
    """How far a watch has read a source (a BODACC publication date, a company's last compared snapshot)."""

    __tablename__ = "source_watermark"

    source: Mapped[str] = mapped_column(String(16), primary_key=True)
    # "notices" for the BODACC feed, the SIREN for a company's register snapshots.
    scope: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[str] = mapped_column(String(64))
    checked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    run_id: Mapped[str | None] = mapped_column(String(250))


class ListVersion(Base):
    """One loaded version of a sanctions list, with its delta against the version it replaced."""

    __tablename__ = "list_version"
    __table_args__ = (Index("ix_list_version_key_status", "list_key", "status"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    list_key: Mapped[str] = mapped_column(String(32))
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    source_format: Mapped[str] = mapped_column(String(32))
    source_uri: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    loaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # active | superseded | refused | quarantined (not active until approved) | rejected
    status: Mapped[str] = mapped_column(String(16))
    entry_count: Mapped[int] = mapped_column(Integer, default=0)
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    previous_version_id: Mapped[int | None] = mapped_column(ForeignKey("list_version.id"))
    delta_added: Mapped[int] = mapped_column(Integer, default=0)
    delta_changed: Mapped[int] = mapped_column(Integer, default=0)
    delta_removed: Mapped[int] = mapped_column(Integer, default=0)
    delta: Mapped[dict[str, Any]] = mapped_column(default=dict)
    refusal_reason: Mapped[str | None] = mapped_column(Text)


class ListEntry(Base):
    """A normalized entry of one list version."""

    __tablename__ = "list_entry"
    __table_args__ = (UniqueConstraint("version_id", "native_id", name="uq_list_entry_version_native"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("list_version.id", ondelete="CASCADE"), index=True)
    list_key: Mapped[str] = mapped_column(String(32))
    native_id: Mapped[str] = mapped_column(String(64))
    entry_type: Mapped[str] = mapped_column(String(16))
    primary_name: Mapped[str] = mapped_column(Text)
    entry_hash: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column()


class ScreeningHit(Base):
    """A potential match between a screened party and a list entry, with its explanation."""

    __tablename__ = "screening_hit"
    __table_args__ = (
        UniqueConstraint(
            "customer_id", "subject_key", "list_key", "native_id", "entry_hash", "run_id", name="uq_screening_hit_once"
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    customer_id: Mapped[str | None] = mapped_column(ForeignKey("customer.id"), index=True)
    # customer | officer | owner, and a stable key of the screened party within the customer.
    subject_role: Mapped[str] = mapped_column(String(16))
    subject_key: Mapped[str] = mapped_column(String(128))
    list_key: Mapped[str] = mapped_column(String(32))
    native_id: Mapped[str] = mapped_column(String(64))
    list_version_id: Mapped[int | None] = mapped_column(ForeignKey("list_version.id"))
    entry_hash: Mapped[str] = mapped_column(String(64))
    matched_name: Mapped[str] = mapped_column(Text)
    score: Mapped[float] = mapped_column(Float)
    verdict: Mapped[str] = mapped_column(String(16))  # match | review
    explanation: Mapped[dict[str, Any]] = mapped_column()
    matcher_version: Mapped[str] = mapped_column(String(32))
    run_id: Mapped[str] = mapped_column(String(250), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class MatchJudgement(Base):
    """An analyst's judgement on a hit; a new row each time, applied until the listed entry changes."""

    __tablename__ = "match_judgement"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    customer_id: Mapped[str | None] = mapped_column(ForeignKey("customer.id"), index=True)
    subject_key: Mapped[str] = mapped_column(String(128))
    list_key: Mapped[str] = mapped_column(String(32))
    native_id: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64))
    verdict: Mapped[str] = mapped_column(String(16))  # false_positive | true_match
    analyst: Mapped[str] = mapped_column(String(128))
    rationale: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Decision(Base):
    """The outcome of one onboarding or review run for one customer, with everything that produced it."""

    __tablename__ = "decision"
    __table_args__ = (UniqueConstraint("customer_id", "run_id", name="uq_decision_customer_run"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customer.id"), index=True)
    run_id: Mapped[str] = mapped_column(String(250))
    outcome: Mapped[str] = mapped_column(String(16))  # approve | review | edd_required | reject
    status: Mapped[str] = mapped_column(String(16), default="final")  # pending_review | final
    risk_level: Mapped[str | None] = mapped_column(String(16))
    score: Mapped[float | None] = mapped_column(Float)
    reasons: Mapped[list[Any]] = mapped_column(default=list)
    contributions: Mapped[dict[str, Any]] = mapped_column(default=dict)
    documents: Mapped[list[Any]] = mapped_column(default=list)
    lineage: Mapped[dict[str, Any]] = mapped_column(default=dict)
    policy_version: Mapped[str | None] = mapped_column(String(64))
    next_review_date: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AuditEvent(Base):
    """Append-only, hash-chained record of everything that happened; the database refuses edits."""

    __tablename__ = "audit_event"

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    event_type: Mapped[str] = mapped_column(String(48), index=True)
    actor: Mapped[str] = mapped_column(String(128))
    customer_id: Mapped[str | None] = mapped_column(String(36), index=True)
    case_id: Mapped[str | None] = mapped_column(String(64), index=True)
    run_id: Mapped[str | None] = mapped_column(String(250))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Canonical JSON text: hashed byte for byte, so it is stored as text, not as a JSON column.
    payload: Mapped[str] = mapped_column(Text)
    # Lets a re-run task append the same fact once only.
    idempotency_key: Mapped[str | None] = mapped_column(String(255), unique=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class SourceCall(Base):
    """One call to an external source, cached or not: what SLA and cost monitoring read."""

    __tablename__ = "source_call"
    __table_args__ = (Index("ix_source_call_source_started", "source", "started_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(32))
    operation: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    latency_ms: Mapped[float] = mapped_column(Float)
    # ok | not_found | error | timeout | circuit_open | rate_limited | cache_hit
    outcome: Mapped[str] = mapped_column(String(16))
    http_status: Mapped[int | None] = mapped_column(Integer)
    cost: Mapped[float] = mapped_column(Float, default=0.0)
    cache_hit: Mapped[bool] = mapped_column(Boolean, default=False)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    error_class: Mapped[str | None] = mapped_column(String(64))
    request_key: Mapped[str | None] = mapped_column(String(128))
    run_id: Mapped[str | None] = mapped_column(String(250))
    task_id: Mapped[str | None] = mapped_column(String(250))


class SourceHealth(Base):
    """One evaluation of one source by the SLA monitor: status, per-window metrics and the config hash."""

    __tablename__ = "source_health"
    __table_args__ = (Index("ix_source_health_source_evaluated", "source", "evaluated_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(32))
    evaluated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    tier: Mapped[str] = mapped_column(String(32))
    # healthy | degraded | down | unknown
    status: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str | None] = mapped_column(String(16))
    breaker_state: Mapped[str | None] = mapped_column(String(16))
    freshness_s: Mapped[float | None] = mapped_column(Float)
    # Per window label: calls, failures, availability, error rate, p95; plus the breaches found.
    metrics: Mapped[dict[str, Any]] = mapped_column()
    config_hash: Mapped[str] = mapped_column(String(64))
    run_id: Mapped[str | None] = mapped_column(String(250))


class SourceIncident(Base):
    """A period during which a source broke its thresholds; at most one open incident per source and kind."""

    __tablename__ = "source_incident"
    __table_args__ = (
        Index(
            "uq_source_incident_open",
            "source",
            "kind",
            unique=True,
            postgresql_where=text("status = 'open'"),
            sqlite_where=text("status = 'open'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(32))
    # sla (status degraded, down or unknown) | credentials (our own credentials refused)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))  # open | resolved
    severity: Mapped[str] = mapped_column(String(16))
    # Highest severity reached: who is told of the recovery.
    peak_severity: Mapped[str] = mapped_column(String(16))
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reminders: Mapped[int] = mapped_column(Integer, default=0)
    last_health_id: Mapped[int | None] = mapped_column(ForeignKey("source_health.id"))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class MonitorAlert(Base):
    """An alert e-mail, stored before it is sent: its unique key makes every transition alert once."""

    __tablename__ = "monitor_alert"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    alert_key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(16))
    source: Mapped[str | None] = mapped_column(String(32))
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("source_incident.id"), index=True)
    recipients: Mapped[list[Any]] = mapped_column()
    subject: Mapped[str] = mapped_column(Text)
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    # Files sent with it: [{"filename", "cid" (shown inline when set), "content_b64"}].
    attachments: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # NULL while pending: the next monitor run retries it.
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    run_id: Mapped[str | None] = mapped_column(String(250))


class EmailNotification(Base):
    """A notice e-mail (compliance notice, review request, deadline, task failure) by idempotency key: sent once."""

    __tablename__ = "email_notification"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # e.g. "compliance_notice:<decision id>": the same notice always has the same key, whoever sends it.
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    # compliance_notice | review_request | deadline_missed | task_failure
    kind: Mapped[str] = mapped_column(String(32))
    decision_id: Mapped[str | None] = mapped_column(String(36), index=True)
    customer_id: Mapped[str | None] = mapped_column(String(36))
    run_id: Mapped[str | None] = mapped_column(String(250))
    recipients: Mapped[list[Any]] = mapped_column(default=list)
    subject: Mapped[str] = mapped_column(Text)
    message_id: Mapped[str] = mapped_column(String(250))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # NULL until the SMTP server accepted it: a failed send is tried again by the next try.
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)


class MonitorConfig(Base):
    """Every SLA or budget configuration that was loaded, by content hash: the last good one stays in force."""

    __tablename__ = "monitor_config"

    content_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # sla | budget
    version: Mapped[str] = mapped_column(String(64))
    content: Mapped[dict[str, Any]] = mapped_column()
    loaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
