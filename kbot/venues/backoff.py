"""Exponential backoff with jitter for reconnects and retries (pure; the caller sleeps).

``delay(n)`` for the n-th consecutive failure (n >= 1) is ``min(max_s, initial_s * multiplier**(n-1))``
scaled by a random factor in ``[1 - jitter, 1]`` ("equal-ish" jitter: many clients failing together
spread out, and the delay never exceeds the cap). ``Backoff`` keeps the failure count and resets it
when a connection has proved itself (``reset()``).
"""

from __future__ import annotations

import random

import attrs


@attrs.frozen(slots=True, kw_only=True)
class BackoffPolicy:
    initial_s: float = attrs.field(default=0.5, validator=attrs.validators.gt(0))  # first delay
    max_s: float = attrs.field(default=30.0, validator=attrs.validators.gt(0))  # cap
    multiplier: float = attrs.field(default=2.0, validator=attrs.validators.ge(1))
    jitter: float = attrs.field(default=0.5, validator=[attrs.validators.ge(0), attrs.validators.le(1)])

    def delay(self, n: int, rng: random.Random | None = None) -> float:
        n = max(1, n)
        base = min(self.max_s, self.initial_s * self.multiplier ** min(n - 1, 64))
        r = (rng or random).random()
        return base * (1.0 - self.jitter * r)


class Backoff:
    """Failure counter around a ``BackoffPolicy``."""

    __slots__ = ("policy", "failures", "_rng")

    def __init__(self, policy: BackoffPolicy, rng: random.Random | None = None) -> None:
        self.policy = policy
        self.failures = 0
        self._rng = rng or random.Random()

    def next(self) -> float:
        self.failures += 1
        return self.policy.delay(self.failures, self._rng)

    def reset(self) -> None:
        self.failures = 0
