"""Per-source fault injection: what can go wrong with a registry or list download, switched at runtime."""

from __future__ import annotations

import random
import time
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

SOURCES = ("sirene", "rne", "bodacc", "recherche", "ofac", "un", "eu")


class Latency(BaseModel):
    """Added delay before answering: uniform between min and max, or normal (clipped at 0)."""

    model_config = ConfigDict(extra="forbid")

    dist: Literal["uniform", "normal", "fixed"] = "uniform"
    min_ms: float = 0
    max_ms: float = 0
    mean_ms: float = 0
    sd_ms: float = 0

    def sample_ms(self, rng: random.Random) -> float:
        """One delay in milliseconds."""
        if self.dist == "uniform":
            return rng.uniform(self.min_ms, max(self.min_ms, self.max_ms))
        if self.dist == "normal":
            return max(0.0, rng.gauss(self.mean_ms, self.sd_ms))
        return self.mean_ms or self.min_ms


class FaultSpec(BaseModel):
    """Faults for one source; rates are probabilities per request (1.0 = every request)."""

    model_config = ConfigDict(extra="forbid")

    latency: Latency | None = None
    error_rate: float = Field(0.0, ge=0, le=1)
    error_status: int = Field(500, ge=500, le=599)
    burst_429: int = Field(0, ge=0, description="the next N requests get 429")
    retry_after_s: int = Field(1, ge=0)
    outage: Literal["503", "reset"] | None = None
    outage_seconds: float | None = Field(None, gt=0, description="outage ends by itself after this long")
    slow_ms: int = Field(0, ge=0, description="time taken to drip the body out")
    truncate_rate: float = Field(0.0, ge=0, le=1)
    truncate_mode: Literal["body", "connection"] = "body"
    malformed_rate: float = Field(0.0, ge=0, le=1)
    html_rate: float = Field(0.0, ge=0, le=1)
    html_status: int = 200
    wrong_content_type_rate: float = Field(0.0, ge=0, le=1)

    @model_validator(mode="after")
    def _latency_bounds(self) -> FaultSpec:
        if self.latency and self.latency.dist == "uniform" and self.latency.max_ms < self.latency.min_ms:
            raise ValueError("latency max_ms must be >= min_ms")
        return self


class FaultBook:
    """Current faults per source, with the outage clock and a seeded random stream per source."""

    def __init__(self, seed: int = 0):
        self._specs: dict[str, FaultSpec] = {}
        self._outage_until: dict[str, float | None] = {}
        self._rngs = {source: random.Random(f"{seed}:faults:{source}") for source in SOURCES}

    def set(self, source: str, spec: FaultSpec) -> None:
        """Replace the faults of one source."""
        self._specs[source] = spec
        self._outage_until[source] = (
            time.monotonic() + spec.outage_seconds if spec.outage and spec.outage_seconds else None)

    def clear(self, source: str | None = None) -> None:
        """Remove the faults of one source, or of all."""
        for name in [source] if source else list(self._specs):
            self._specs.pop(name, None)
            self._outage_until.pop(name, None)

    def get(self, source: str) -> FaultSpec | None:
        """The faults of a source, or None when it behaves."""
        return self._specs.get(source)

    def rng(self, source: str) -> random.Random:
        """The random stream deciding this source's probabilistic faults."""
        return self._rngs[source]

    def outage(self, source: str) -> str | None:
        """The outage mode in force for a source (an expired timed outage ends here)."""
        spec = self._specs.get(source)
        if spec is None or spec.outage is None:
            return None
        until = self._outage_until.get(source)
        if until is not None and time.monotonic() >= until:
            self._specs[source] = spec.model_copy(update={"outage": None, "outage_seconds": None})
            return None
        return spec.outage

    def take_429(self, source: str) -> bool:
        """Consume one request of a pending 429 burst."""
        spec = self._specs.get(source)
        if spec is None or spec.burst_429 <= 0:
            return False
        self._specs[source] = spec.model_copy(update={"burst_429": spec.burst_429 - 1})
        return True

    def snapshot(self) -> dict[str, dict]:
        """JSON view of every source's faults."""
        result = {}
        for source, spec in self._specs.items():
            view = spec.model_dump(exclude_defaults=True)
            until = self._outage_until.get(source)
            if until is not None:
                view["outage_remaining_s"] = round(max(0.0, until - time.monotonic()), 3)
            result[source] = view
        return result
