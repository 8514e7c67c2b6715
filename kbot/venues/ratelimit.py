"""Client-side token buckets mirroring Kalshi's rate limits (since Apr 23 2026).

Kalshi charges every request tokens (default 10; V2 cancel 2; GET order 2; batch create 10 per
order; batch cancel 2 per order; cancel-all 2) from separate **read** and **write** buckets whose
refill rate and capacity depend on the account tier. A 429 carries no Retry-After, so the client
must pace itself: ``TokenBucket`` is the pure arithmetic (time passed in), ``RateLimiter`` the
async wrapper that sleeps on the Trio clock until a request fits.

Tier table (tokens/s, read/write): Basic 200/100, Advanced 300/300, Expert 600/600, Premier
1000/1000, Paragon 2000/2000, Prime 4000/4000, Prestige 10000/8000. Bucket capacity: Basic and
Advanced read buckets and every write bucket above Basic hold 2 s of budget; read buckets above
Advanced and the Basic write bucket hold 1 s.
"""

from __future__ import annotations

import attrs
import trio

DEFAULT_COST = 10
CANCEL_COST = 2
GET_ORDER_COST = 2
CANCEL_ALL_COST = 2

TIERS: dict[str, tuple[float, float]] = {
    "basic": (200.0, 100.0),
    "advanced": (300.0, 300.0),
    "expert": (600.0, 600.0),
    "premier": (1000.0, 1000.0),
    "paragon": (2000.0, 2000.0),
    "prime": (4000.0, 4000.0),
    "prestige": (10000.0, 8000.0),
}


def tier_buckets(tier: str, fraction: float = 1.0) -> tuple[tuple[float, float], tuple[float, float]]:
    """((read_rate, read_capacity), (write_rate, write_capacity)) for a tier, scaled by
    ``fraction`` (keep headroom for other programs sharing the key)."""
    try:
        read, write = TIERS[tier.lower()]
    except KeyError:
        raise ValueError(f"unknown Kalshi rate-limit tier {tier!r}; one of {', '.join(TIERS)}") from None
    t = tier.lower()
    read_cap_s = 2.0 if t in ("basic", "advanced") else 1.0
    write_cap_s = 1.0 if t == "basic" else 2.0
    return (read * fraction, read * fraction * read_cap_s), (write * fraction, write * fraction * write_cap_s)


@attrs.define(slots=True)
class TokenBucket:
    """``tokens`` refill at ``rate``/s up to ``capacity``. Pure: every call passes ``now``."""

    rate: float
    capacity: float
    tokens: float = attrs.field(default=None)
    stamp: float | None = None

    def __attrs_post_init__(self) -> None:
        if self.rate <= 0 or self.capacity <= 0:
            raise ValueError("token bucket rate and capacity must be > 0")
        if self.tokens is None:
            self.tokens = self.capacity

    def _refill(self, now: float) -> None:
        if self.stamp is not None and now > self.stamp:
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now if self.stamp is None else max(self.stamp, now)

    def wait_time(self, cost: float, now: float) -> float:
        """Seconds until ``cost`` tokens are available (0 if now)."""
        if cost > self.capacity:
            raise ValueError(f"request costs {cost} tokens, more than the bucket holds ({self.capacity:g})")
        self._refill(now)
        missing = cost - self.tokens
        return 0.0 if missing <= 0 else missing / self.rate

    def take(self, cost: float, now: float) -> bool:
        """Take ``cost`` tokens if available."""
        if self.wait_time(cost, now) > 0:
            return False
        self.tokens -= cost
        return True

    def drain(self, now: float) -> None:
        """The server said 429: assume our view was optimistic and empty the bucket."""
        self._refill(now)
        self.tokens = 0.0


class RateLimiter:
    """Separate read and write buckets; ``await acquire(cost, write=...)`` waits (FIFO among
    waiters of one bucket, so a big request is not starved by small ones) until it fits."""

    def __init__(self, read: TokenBucket, write: TokenBucket) -> None:
        self.read = read
        self.write = write
        self._locks = {False: trio.Lock(), True: trio.Lock()}
        self.waited_s = 0.0  # total time spent waiting for tokens (for stats)

    @classmethod
    def for_tier(cls, tier: str, fraction: float = 1.0) -> RateLimiter:
        (rr, rc), (wr, wc) = tier_buckets(tier, fraction)
        return cls(TokenBucket(rr, rc), TokenBucket(wr, wc))

    def bucket(self, write: bool) -> TokenBucket:
        return self.write if write else self.read

    def check(self, cost: float, *, write: bool) -> None:
        """Raise ValueError now if ``cost`` can never fit (e.g. an over-sized batch, which Kalshi
        would reject whole)."""
        b = self.bucket(write)
        if cost > b.capacity:
            raise ValueError(
                f"request costs {cost:g} tokens but the {'write' if write else 'read'} bucket holds "
                f"{b.capacity:g}: split the batch"
            )

    async def acquire(self, cost: float, *, write: bool) -> None:
        self.check(cost, write=write)
        b = self.bucket(write)
        async with self._locks[write]:
            while True:
                now = trio.current_time()
                w = b.wait_time(cost, now)
                if w <= 0:
                    b.tokens -= cost
                    return
                self.waited_s += w
                await trio.sleep(w)

    def penalize(self, *, write: bool) -> None:
        self.bucket(write).drain(trio.current_time())
