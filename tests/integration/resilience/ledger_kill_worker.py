"""Run as a separate process by the ledger-on-kill test: fetches one company's registers through the real guards.

With a marker path, the process stops right after the first paid answer reaches its caller (the point where
the answer is used) by writing the marker and sleeping: the test then kills it with SIGKILL.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

from kyc_core.registry.endpoints import RegistryEndpoints
from kyc_core.registry.fetch import fetch_company
from kyc_core.resilience import CallContext, RedisBackend, SourceGuard


def pause_after_paid_answers(marker: Path) -> None:
    """Hold the process as soon as a paid answer is in the caller's hands."""
    original = SourceGuard.call

    async def call(self, *args, **kwargs):
        guarded = await original(self, *args, **kwargs)
        if guarded.cost > 0:
            marker.write_text(self.source)
            while True:
                time.sleep(1)
        return guarded

    SourceGuard.call = call  # type: ignore[method-assign]


def main() -> None:
    spec = json.loads(sys.argv[1])
    if spec.get("marker"):
        pause_after_paid_answers(Path(spec["marker"]))
    endpoints = RegistryEndpoints.from_emulator(spec["urls"], spec["credentials"])
    result = asyncio.run(
        fetch_company(
            spec["siren"],
            endpoints=endpoints,
            database_url=spec["database_url"],
            backend=RedisBackend(spec["redis_url"], spec["prefix"]),
            context=CallContext(run_id="run-kill", task_id=spec["task_id"]),
            sources=spec["sources"],
            source_config={"*": {"retry_initial_s": 0.01, "retry_max_s": 0.02}},
        )
    )
    print(json.dumps(result.summary()["sources"]))


if __name__ == "__main__":
    main()
