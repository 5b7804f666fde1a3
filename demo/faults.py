"""Fault injection for the demo server: the misbehaviour of real sites, on demand.

Off by default. Each mode has a rate: that share of URLs (chosen by a hash of the seed and the
URL, so the same URLs fail in every run) misbehave on their first ``attempts`` requests and
answer normally afterwards. A crawler that retries correctly therefore ends with exactly the
same data as on a clean server, which is what the resilience tests check.

Spec strings (CLI ``--faults`` and params ``demo.faults``)::

    "error_500=0.1,retry_after=0.05,reset=0.05,slow=0.02,truncate=0.05,attempts=2"
"""

from __future__ import annotations

import hashlib
import threading
from collections import Counter
from dataclasses import dataclass, fields

MODES = ("error_500", "retry_after", "reset", "slow", "truncate")


@dataclass(frozen=True)
class FaultConfig:
    error_500: float = 0.0  # share of URLs answered 500 Internal Server Error
    retry_after: float = 0.0  # share answered 429 or 503 with a Retry-After header
    reset: float = 0.0  # share whose connection is reset (TCP RST) before any response
    slow: float = 0.0  # share answered only after slow_s seconds
    truncate: float = 0.0  # share whose body is cut off short of its Content-Length
    attempts: int = 1  # how many requests of a faulty URL misbehave before it recovers
    retry_after_s: int = 1  # value of the Retry-After header, seconds
    slow_s: float = 2.0  # delay of a slow response, seconds
    seed: int = 0  # which URLs are faulty

    def __post_init__(self):
        rates = [getattr(self, m) for m in MODES]
        if any(r < 0 for r in rates) or sum(rates) > 1:
            raise ValueError(f"fault rates must be >= 0 and sum to at most 1, got {rates}")
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")

    @property
    def enabled(self) -> bool:
        return any(getattr(self, m) > 0 for m in MODES)

    @classmethod
    def parse(cls, spec: str | dict | None) -> FaultConfig:
        if not spec:
            return cls()
        if isinstance(spec, dict):
            items = spec.items()
        else:
            items = (part.split("=", 1) for part in spec.split(",") if part.strip())
        known = {f.name: f.type for f in fields(cls)}
        values = {}
        for key, value in items:
            key = key.strip()
            if key == "all":  # every mode at once, at this rate each
                values.update({m: float(value) for m in MODES})
                continue
            if key not in known:
                raise ValueError(f"unknown fault setting {key!r}; known: {', '.join(known)}")
            values[key] = int(value) if key in ("attempts", "retry_after_s", "seed") \
                else float(value)
        return cls(**values)


class FaultInjector:
    """Decides, per request, whether and how to misbehave. Thread-safe."""

    def __init__(self, config: FaultConfig):
        self.config = config
        self._seen: Counter[str] = Counter()
        self._lock = threading.Lock()
        self.injected: Counter[str] = Counter()

    def mode_for(self, url: str) -> str | None:
        if not self.config.enabled:
            return None
        digest = hashlib.blake2b(f"{self.config.seed}:{url}".encode(), digest_size=8).digest()
        u = int.from_bytes(digest, "big") / 2**64
        mode = None
        edge = 0.0
        for m in MODES:
            edge += getattr(self.config, m)
            if u < edge:
                mode = m
                break
        if mode is None:
            return None
        with self._lock:
            self._seen[url] += 1
            if self._seen[url] > self.config.attempts:
                return None
            self.injected[mode] += 1
        return mode
