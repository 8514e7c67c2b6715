"""Kalshi-style token-bucket rate limits (pure; the caller passes the time).

Since April 2026 every request costs tokens (default 10) from one of two buckets per key,
**read** or **write** (order place/amend/cancel). Buckets refill at the tier's rate and hold
2 s of budget for Basic/Advanced reads and non-Basic writes, 1 s otherwise (reference §4.2).
A request that does not fit gets 429 ``{"error": "too many requests"}`` with no headers;
a batch is charged as a whole (rejected whole if it does not fit).

Times are **real** seconds (``trio.current_time()``), not the sim clock: rate limits are
about how fast a client talks to the server.
"""

from __future__ import annotations

import attrs

# tier -> (read tokens/s, write tokens/s)
TIERS: dict[str, tuple[int, int]] = {
    "basic": (200, 100),
    "advanced": (300, 300),
    "expert": (600, 600),
    "premier": (1000, 1000),
    "paragon": (2000, 2000),
    "prime": (4000, 4000),
    "prestige": (10000, 8000),
}

DEFAULT_COST = 10
CREATE_COST = 10  # per order (batch: per order)
CANCEL_COST = 2  # per order (batch: per order); also cancel-all
GET_ORDER_COST = 2
CFB_COST = 50


def capacities(tier: str) -> tuple[int, int]:
    read, write = TIERS[tier]
    read_cap = read * 2 if tier in ("basic", "advanced") else read
    write_cap = write if tier == "basic" else write * 2
    return read_cap, write_cap


@attrs.define(slots=True)
class TokenBucket:
    rate: float  # tokens per second
    capacity: float
    tokens: float = -1.0
    last: float | None = None

    def __attrs_post_init__(self) -> None:
        if self.tokens < 0:
            self.tokens = self.capacity

    def take(self, cost: float, now: float) -> bool:
        if self.last is not None and now > self.last:
            self.tokens = min(self.capacity, self.tokens + (now - self.last) * self.rate)
        self.last = now if self.last is None else max(self.last, now)
        if cost > self.tokens:
            return False
        self.tokens -= cost
        return True


class RateLimiter:
    """Read and write buckets per client (API key, or peer address for unsigned requests)."""

    def __init__(self, tier: str = "basic", *, enabled: bool = True) -> None:
        self.tier = tier
        self.enabled = enabled
        self.read_rate, self.write_rate = TIERS[tier]
        self.read_cap, self.write_cap = capacities(tier)
        self._buckets: dict[tuple[str, str], TokenBucket] = {}

    def allow(self, client: str, bucket: str, cost: int, now: float) -> bool:
        if not self.enabled:
            return True
        b = self._buckets.get((client, bucket))
        if b is None:
            if bucket == "write":
                b = TokenBucket(self.write_rate, self.write_cap)
            else:
                b = TokenBucket(self.read_rate, self.read_cap)
            self._buckets[(client, bucket)] = b
        return b.take(cost, now)

    def limits_json(self) -> dict:
        return {
            "usage_tier": self.tier,
            "read": {"refill_rate": self.read_rate, "bucket_capacity": self.read_cap},
            "write": {"refill_rate": self.write_rate, "bucket_capacity": self.write_cap},
            "grants": [],
        }


def cost_of(method: str, route: str, n_items: int = 1) -> tuple[str, int]:
    """``(bucket, tokens)`` for a request to ``route`` (path after ``/trade-api/v2``)."""
    if route.startswith("/portfolio/events/orders"):
        if method == "POST" and route.endswith("/batched"):
            return "write", CREATE_COST * max(1, n_items)
        if method == "DELETE" and route.endswith("/batched"):
            return "write", CANCEL_COST * max(1, n_items)
        if method == "DELETE":
            return "write", CANCEL_COST
        return "write", CREATE_COST
    if method == "GET" and route.startswith("/portfolio/orders/") and route.count("/") == 3:
        return "read", GET_ORDER_COST
    if route.startswith("/cfbenchmarks"):
        return "read", CFB_COST
    return ("write" if method in ("POST", "PUT", "DELETE") else "read"), DEFAULT_COST
