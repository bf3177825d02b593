"""Real cases for the workspace tests: customers assessed by the core against the emulator and the lists."""

from __future__ import annotations

import json
import urllib.request
from datetime import UTC, datetime

from kyc_core.cases.review import CONFIRM, Review, finalize, record_review
from kyc_core.customers.registration import register_batch
from kyc_core.customers.request import parse_request
from kyc_core.onboarding.pipeline import AssessmentContext, assess_customer
from kyc_core.registry.endpoints import RegistryEndpoints
from kyc_core.resilience import MemoryBackend
from kyc_core.store.db import session_scope
from kyc_dev.emulator.dataset import Dataset
from kyc_dev.emulator.server import credentials

FAST = {"*": {"retry_initial_s": 0.01, "retry_max_s": 0.02}}

PEP = {
    "customer": {"kind": "person", "name": "Jonas Weber", "birth_date": "1971-11-02", "nationality": "DE",
                 "residence_country": "LU", "pep_declared": True, "pep_category": "foreign"},
    "segment": "asset_mgmt", "external_ref": "WS-PER-PEP",
}


def _entity(ds: Dataset, siren: str, ref: str, segment: str = "cgp") -> dict:
    return {"customer": {"kind": "entity", "siren": siren, "declared_name": ds.company(siren).name},
            "segment": segment, "external_ref": ref}


def _fault(emulator, source: str, spec: dict | None) -> None:
    base = emulator.root + "/_admin/faults"
    if spec is None:
        request = urllib.request.Request(f"{base}?source={source}", method="DELETE")
    else:
        request = urllib.request.Request(base, data=json.dumps({"source": source, **spec}).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=5).close()


def seed_cases(store: str, emulator) -> dict[str, dict]:
    """Assess four customers (approve, reject confirmed by two reviewers, EDD, review during an RNE outage).

    Returns, per label, the decision summary plus the customer's name or declared name.
    """
    ds = Dataset(emulator.state.config.companies, emulator.state.config.seed)
    sanctioned = next(k for k in ds.known_positives() if k.role == "officer")
    items = {
        "approve": _entity(ds, ds.siren(21), "WS-ENT-CLEAN"),
        "reject": _entity(ds, sanctioned.siren, "WS-ENT-SANCTIONED"),
        "edd": PEP,
        "outage": _entity(ds, ds.siren(22), "WS-ENT-OUTAGE"),
    }
    with session_scope(store) as s:
        registered = register_batch(s, parse_request({"customers": list(items.values())}), actor="seed", run_id="seed-run")
        ids = dict(zip(items, [r.customer_id for r in registered], strict=True))
    endpoints = RegistryEndpoints.from_emulator(emulator.urls, credentials(emulator.state.config))
    ctx = AssessmentContext(database_url=store, run_id="seed-run", actor="seed", endpoints=endpoints,
                            fetch_options={"backend": MemoryBackend(), "source_config": FAST})
    out: dict[str, dict] = {}
    for label, cid in ids.items():
        if label == "outage":
            _fault(emulator, "rne", {"outage": "503"})
        try:
            out[label] = assess_customer(ctx, cid)
        finally:
            if label == "outage":
                _fault(emulator, "rne", None)
        subject = items[label]["customer"]
        out[label]["name"] = subject.get("name") or subject.get("declared_name")
        out[label]["ref"] = items[label]["external_ref"]
    with session_scope(store) as s:
        decision_id = out["reject"]["decision_id"]
        for stage, who in ((1, "analyst1"), (2, "analyst2")):
            record_review(s, decision_id, Review(stage, who, who, CONFIRM, f"listing confirmed by {who}", datetime.now(UTC)),
                          allowed=None, actor=f"user:{who}", run_id="seed-run")
        finalize(s, decision_id, actor="seed", run_id="seed-run")
    return out


def open_breaker_by_outage(store: str, emulator, redis_url: str, key_prefix: str, source: str = "rne") -> None:
    """Inject an outage of `source` in the emulator and fetch through the shared breaker until it opens."""
    import asyncio

    from kyc_core.registry.fetch import fetch_company
    from kyc_core.resilience.backend import OPEN, RedisBackend

    ds = Dataset(emulator.state.config.companies, emulator.state.config.seed)
    endpoints = RegistryEndpoints.from_emulator(emulator.urls, credentials(emulator.state.config))

    async def state() -> str:
        backend = RedisBackend(redis_url, key_prefix)
        try:
            return (await backend.breaker_snapshot(source)).state
        finally:
            await backend.aclose()

    _fault(emulator, source, {"outage": "503"})
    try:
        for index in range(10):
            asyncio.run(fetch_company(ds.siren(30 + index), endpoints=endpoints, database_url=store, redis_url=redis_url,
                                      key_prefix=key_prefix, sources=[source], source_config=FAST))
            if asyncio.run(state()) == OPEN:
                return
    finally:
        _fault(emulator, source, None)
    raise AssertionError(f"the {source} breaker did not open during the outage")


def seed_infrastructure_case(store: str, emulator, ref: str = "WS-ENT-INFRA") -> dict:
    """One company assessed while Redis could not be reached: `review` / `infrastructure_unavailable`."""
    import socket

    from kyc_core.resilience import RedisBackend

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    ds = Dataset(emulator.state.config.companies, emulator.state.config.seed)
    with session_scope(store) as s:
        [registered] = register_batch(s, parse_request({"customers": [_entity(ds, ds.siren(23), ref)]}),
                                      actor="seed", run_id="seed-infra-run")
    endpoints = RegistryEndpoints.from_emulator(emulator.urls, credentials(emulator.state.config))
    ctx = AssessmentContext(database_url=store, run_id="seed-infra-run", actor="seed", endpoints=endpoints,
                            fetch_options={"backend": RedisBackend(f"redis://127.0.0.1:{closed}/0", "kyc:"),
                                           "source_config": FAST})
    return {**assess_customer(ctx, registered.customer_id), "ref": ref}
