"""Code run in separate OS processes (spawn) by the shared-state tests: each is a fresh interpreter."""

from __future__ import annotations

import asyncio
import time

from kyc_core.errors import CircuitOpen, TransientSourceError
from kyc_core.resilience import CallLedger, RedisBackend, SourceConfig, SourceGuard


def _guard(
    redis_url: str,
    prefix: str,
    config: dict,
    changes: list | None = None,
    database_url: str | None = None,
    clock_offset_s: float = 0.0,
):
    ledger = CallLedger(database_url, batch_size=1000) if database_url else None
    return SourceGuard(
        "sirene",
        backend=RedisBackend(redis_url, prefix),
        config=SourceConfig(**config),
        ledger=ledger,
        on_state_change=(lambda *change: changes.append(change[1:3])) if changes is not None else None,
        clock=lambda: time.time() + clock_offset_s,
    )


def fail_calls(redis_url: str, prefix: str, config: dict, calls: int) -> list[tuple[str, str]]:
    """Make `calls` calls to a failing source; the breaker transitions this process saw."""
    changes: list = []
    guard = _guard(redis_url, prefix, config, changes)

    async def failing():
        raise TransientSourceError("sirene", "HTTP 503", http_status=503)

    async def main():
        for _ in range(calls):
            try:
                await guard.call("siren", "552100554", failing, cacheable=False)
            except (TransientSourceError, CircuitOpen):
                pass
        await guard.backend.aclose()

    asyncio.run(main())
    return changes


def try_call(redis_url: str, prefix: str, config: dict, clock_offset_s: float = 0.0) -> dict:
    """One call to a healthy source (its clock `clock_offset_s` ahead): outcome and transitions seen."""
    changes: list = []
    guard = _guard(redis_url, prefix, config, changes, clock_offset_s=clock_offset_s)
    fetched = []

    async def healthy():
        fetched.append(1)
        return {"ok": True}

    async def main():
        try:
            result = await guard.call("siren", "552100554", healthy, cacheable=False)
            outcome = "ok" if result.value == {"ok": True} else "wrong"
        except CircuitOpen:
            outcome = "circuit_open"
        await guard.backend.aclose()
        return outcome

    outcome = asyncio.run(main())
    return {"outcome": outcome, "fetched": len(fetched), "changes": changes}


def race_for_probe(redis_url: str, prefix: str, config: dict, tasks: int, barrier) -> list[str]:
    """After the barrier, `tasks` concurrent acquisitions; 'probe', 'allow' or 'refused' for each."""
    guard = _guard(redis_url, prefix, config)

    async def one() -> str:
        try:
            permit = await guard.breaker.acquire()
        except CircuitOpen:
            return "refused"
        return "probe" if permit.probe else "allow"

    async def main():
        await guard.backend.breaker_snapshot("sirene")
        barrier.wait()
        results = await asyncio.gather(*(one() for _ in range(tasks)))
        await guard.backend.aclose()
        return list(results)

    return asyncio.run(main())


def hammer(redis_url: str, prefix: str, config: dict, calls: int, barrier, database_url: str) -> list[float]:
    """After the barrier, `calls` rate-limited calls; the wall-clock time of each fetch."""
    guard = _guard(redis_url, prefix, config, database_url=database_url)
    stamps: list[float] = []

    async def fetch():
        stamps.append(time.time())
        return {"ok": True}

    async def main():
        await guard.backend.breaker_snapshot("sirene")
        barrier.wait()
        for n in range(calls):
            await guard.call("siren", f"key-{n}", fetch, cacheable=False)
        await guard.aclose()
        await guard.backend.aclose()

    asyncio.run(main())
    return stamps


def entry(results, index: int, name: str, args: tuple) -> None:
    """Process target: run worker `name` and send back (index, result) or (index, error text)."""
    try:
        results.put((index, globals()[name](*args)))
    except BaseException as exc:
        results.put((index, f"worker failed: {type(exc).__name__}: {exc}"))
        raise


def sirene_lookups(
    redis_url: str,
    prefix: str,
    config: dict,
    emulator: dict,
    calls: int,
    database_url: str,
    clock_offset_s: float = 0.0,
) -> dict:
    """`calls` legal-unit lookups through the real Sirene client behind a guard: outcomes and transitions."""
    import aiohttp
    from kyc_core.sources import SireneClient

    changes: list = []
    guard = _guard(
        redis_url, prefix, config, changes, database_url=database_url, clock_offset_s=clock_offset_s
    )

    async def main() -> list[str]:
        outcomes = []
        async with aiohttp.ClientSession() as session:
            client = SireneClient(session, emulator["base_url"], api_key=emulator["api_key"], guard=guard)
            for _ in range(calls):
                try:
                    fetched = await client.legal_unit(emulator["siren"])
                    assert fetched.model.siren == emulator["siren"]
                    outcomes.append("cached" if fetched.from_cache else "live")
                except CircuitOpen:
                    outcomes.append("circuit_open")
                except TransientSourceError:
                    outcomes.append("transient")
        await guard.aclose()
        await guard.backend.aclose()
        return outcomes

    return {"outcomes": asyncio.run(main()), "changes": changes}
