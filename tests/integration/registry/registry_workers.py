"""Code run in separate OS processes (spawn) by the registry tests: each is a fresh interpreter, like an Airflow task try."""

from __future__ import annotations

import asyncio

from kyc_core.registry import RegistryEndpoints, fetch_company
from kyc_core.resilience import CallContext, RedisBackend


def fetch(
    endpoints: RegistryEndpoints,
    database_url: str,
    redis_url: str,
    prefix: str,
    siren: str,
    source_config: dict,
    worker: str,
) -> dict:
    """Fetch one company as worker `worker`; its summary and the BODACC breaker state it sees afterwards."""

    async def main() -> dict:
        result = await fetch_company(
            siren,
            endpoints=endpoints,
            database_url=database_url,
            redis_url=redis_url,
            key_prefix=prefix,
            context=CallContext(run_id="scheduled__outage", task_id=worker),
            source_config=source_config,
            actor=f"airflow:{worker}",
        )
        probe = RedisBackend(redis_url, prefix)
        state = (await probe.breaker_snapshot("bodacc")).state
        await probe.aclose()
        return {"summary": result.summary(), "bodacc_breaker": state}

    return asyncio.run(main())


def entry(results, index: int, args: tuple) -> None:
    """Process target: send back (index, result) or (index, error text)."""
    try:
        results.put((index, fetch(*args)))
    except BaseException as exc:
        results.put((index, f"worker failed: {type(exc).__name__}: {exc}"))
        raise
