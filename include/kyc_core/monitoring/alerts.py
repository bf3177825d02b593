"""Alert e-mails an on-call engineer can act on: subject, plain text and HTML, with a runbook.

No personal data: error samples carry time, operation, outcome, HTTP status and error class only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from typing import Any

from kyc_core.monitoring.incidents import RAISED, REMINDER, RESOLVED
from kyc_core.monitoring.rendered import Rendered

#: Where to look first, per source (public status and documentation pages).
SOURCE_PAGES = {
    "sirene": "INSEE API portal status: https://portail-api.insee.fr/ (Sirene 3.11; 30 requests/minute per application)",
    "rne": "INPI data portal and RNE API notices: https://data.inpi.fr/ (SSO login, then /api/companies)",
    "rbe": "INPI RNE API (beneficial owners ride on the RNE account and record): https://data.inpi.fr/",
    "bodacc": "BODACC open data (Opendatasoft explore API v2.1): https://bodacc-datadila.opendatasoft.com/",
    "ofac": "OFAC Sanctions List Service: https://sanctionslist.ofac.treas.gov/",
    "eu": "EU Financial Sanctions Files: https://webgate.ec.europa.eu/fsd/fsf",
    "un": "UN Security Council consolidated list: https://main.un.org/securitycouncil/en/content/un-sc-consolidated-list",
}
LIST_SOURCES = ("ofac", "eu", "un")


def hhmm(moment: datetime) -> str:
    """`14:05 UTC`, or with the date when it is not today's (by the reader's reckoning, UTC)."""
    return moment.strftime("%H:%M UTC")


def elapsed(seconds: float) -> str:
    """`30 min`, `2 h 05 min`."""
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


@dataclass(frozen=True)
class AlertFacts:
    """Everything an alert says."""

    transition: str  # opened | raised | reminder | resolved
    incident_kind: str  # sla | credentials
    incident_id: int
    source: str
    severity: str
    status: str
    since: datetime
    now: datetime
    breaches: list[str]
    windows: dict[str, dict[str, Any]]
    breaker_state: str | None
    freshness_s: float | None
    samples: list[dict[str, Any]] = field(default_factory=list)
    decisions_affected: int = 0
    run_link: str | None = None
    sla_met: dict[str, bool | None] = field(default_factory=dict)


def subject(f: AlertFacts) -> str:
    """`[KYC][CRITICAL] rne down since 14:05 UTC` and its variants per transition."""
    what = {
        "credentials": "credentials refused",
        "unknown": "cannot be measured",
    }.get(f.incident_kind if f.incident_kind == "credentials" else f.status, f.status)
    if f.transition == RESOLVED:
        return (
            f"[KYC][RESOLVED] {f.source} recovered at {hhmm(f.now)} "
            f"({f.severity} since {hhmm(f.since)}, {elapsed((f.now - f.since).total_seconds())})"
        )
    tag = f"[KYC][{f.severity.upper()}]"
    base = f"{tag} {f.source} {what} since {hhmm(f.since)}"
    if f.transition == RAISED:
        return f"{base} (severity raised)"
    if f.transition == REMINDER:
        return f"{tag} {f.source} still {what} since {hhmm(f.since)} (reminder)"
    return base


def runbook(source: str, incident_kind: str) -> list[str]:
    """Short steps: what to check, how to force a probe, how to pause intake."""
    steps = []
    if incident_kind == "credentials":
        steps.append(
            f"Our credentials were refused (HTTP 401/403): check the `kyc_{source if source != 'rbe' else 'rne'}` "
            "connection (login, password or API key) and whether the account was disabled or its password expired. "
            "This is not the source's outage; retries will not fix it."
        )
    else:
        steps.append(f"Check the source: {SOURCE_PAGES.get(source, 'its status page')}.")
        steps.append(
            "Read the error samples below: 5xx or resets mean the source is down; 429 means a quota is spent "
            "(the breaker stays open until it resets); timeouts with p95 high mean it is slow."
        )
    steps.append(
        "Force a probe now: `airflow dags trigger kyc_source_sla_monitor` (a free canary call per source), "
        "then `kyc sla report --window 15m`."
    )
    if source in LIST_SOURCES:
        steps.append(
            "List screening keeps using the last active version; once the source is back, "
            "`airflow dags trigger kyc_sanctions_refresh` fetches the latest publication."
        )
    else:
        steps.append(
            "Onboarding fails closed meanwhile (review, source_unavailable). To pause intake: "
            "`airflow dags pause kyc_onboarding` (triggered runs wait queued); `airflow dags unpause kyc_onboarding` "
            "after recovery, then re-run the affected customers."
        )
    steps.append("Open incidents: `kyc incidents --open`.")
    return steps


def _window_rows(f: AlertFacts) -> list[tuple[str, str, str, str, str, str]]:
    rows = []
    for label, w in f.windows.items():
        avail = "-" if w.get("availability_pct") is None else f"{w['availability_pct']:.2f} %"
        err = "-" if w.get("error_rate_pct") is None else f"{w['error_rate_pct']:.2f} %"
        p95 = "-" if w.get("p95_ms") is None else f"{w['p95_ms']:.0f} ms"
        met = {True: "met", False: "breached", None: "-"}[f.sla_met.get(label)]
        rows.append((label, str(w.get("calls", 0)), avail, err, p95, met))
    return rows


def render(f: AlertFacts) -> Rendered:
    """Subject, text and HTML of one alert."""
    subj = subject(f)
    head = (
        f"Source: {f.source}\nStatus: {f.status} ({f.severity})\n"
        f"Since: {f.since.isoformat(timespec='seconds')} (incident #{f.incident_id})\n"
        f"Breaker: {f.breaker_state or 'unknown'}\n"
        f"Freshness: {'never answered' if f.freshness_s is None else elapsed(f.freshness_s) + ' since the last answer'}\n"
        f"Onboarding decisions sent to review / source_unavailable since then: {f.decisions_affected}\n"
    )
    if f.transition == RESOLVED:
        head = f"Recovered at {f.now.isoformat(timespec='seconds')}.\n" + head
    text = [subj, "", head]
    if f.breaches:
        text += ["Observed against threshold:", *[f"  - {b}" for b in f.breaches], ""]
    text += ["Windows (calls, availability, error rate, p95, SLA):"]
    text += [
        f"  {r[0]:>4}: {r[1]} calls, availability {r[2]}, errors {r[3]}, p95 {r[4]}, SLA {r[5]}"
        for r in _window_rows(f)
    ]
    if f.samples:
        text += ["", "Last classified errors (UTC time, operation, outcome, HTTP status, error class):"]
        text += [
            f"  {s['at']}  {s['operation']}  {s['outcome']}  {s['http_status'] if s['http_status'] is not None else '-'}  {s['error_class'] or '-'}"
            for s in f.samples
        ]
    if f.run_link:
        text += ["", f"Monitor run: {f.run_link}"]
    text += [
        "",
        "Runbook:",
        *[f"  {i}. {step}" for i, step in enumerate(runbook(f.source, f.incident_kind), 1)],
    ]

    color = {"warning": "#b26a00", "critical": "#b00020", "emergency": "#6a0080"}.get(f.severity, "#1b5e20")
    html = [
        f'<h2 style="color:{color}">{escape(subj)}</h2>',
        "<p>" + escape(head).replace("\n", "<br>") + "</p>",
    ]
    if f.breaches:
        html.append(
            "<p><b>Observed against threshold</b></p><ul>"
            + "".join(f"<li>{escape(b)}</li>" for b in f.breaches)
            + "</ul>"
        )
    cells = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in r) + "</tr>" for r in _window_rows(f))
    html.append(
        '<table border="1" cellpadding="4" cellspacing="0"><tr><th>window</th><th>calls</th><th>availability</th>'
        f"<th>error rate</th><th>p95</th><th>SLA</th></tr>{cells}</table>"
    )
    if f.samples:
        rows = "".join(
            f"<tr><td>{escape(str(s['at']))}</td><td>{escape(str(s['operation']))}</td><td>{escape(str(s['outcome']))}</td>"
            f"<td>{escape(str(s['http_status'] if s['http_status'] is not None else '-'))}</td><td>{escape(str(s['error_class'] or '-'))}</td></tr>"
            for s in f.samples
        )
        html.append(
            '<p><b>Last classified errors</b></p><table border="1" cellpadding="4" cellspacing="0">'
            f"<tr><th>UTC</th><th>operation</th><th>outcome</th><th>HTTP</th><th>error class</th></tr>{rows}</table>"
        )
    if f.run_link:
        html.append(f'<p><a href="{escape(f.run_link)}">Open the monitor run in Airflow</a></p>')
    html.append(
        "<p><b>Runbook</b></p><ol>"
        + "".join(f"<li>{escape(s)}</li>" for s in runbook(f.source, f.incident_kind))
        + "</ol>"
    )
    return Rendered(subj, "\n".join(text) + "\n", "".join(html))
