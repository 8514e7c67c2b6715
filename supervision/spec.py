"""Child specifications: what to run, when to restart it, how long to wait before doing so.

The vocabulary is Erlang/OTP's (restart types, backoff is our addition):

- ``Restart.PERMANENT``: always restarted, whether it returned or raised.
- ``Restart.TRANSIENT``: restarted only when it raised an ``Exception``.
- ``Restart.TEMPORARY``: never restarted; also dropped (not restarted) when a sibling's
  failure makes a ``ONE_FOR_ALL``/``REST_FOR_ONE`` supervisor restart the group.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Awaitable, Callable

import attrs


class Restart(enum.Enum):
    PERMANENT = "permanent"
    TRANSIENT = "transient"
    TEMPORARY = "temporary"


class Strategy(enum.Enum):
    """What else is restarted when a child has to be restarted (OTP semantics).

    - ``ONE_FOR_ONE``: only that child.
    - ``ONE_FOR_ALL``: every child: the others are stopped (reverse start order), then all
      are started again in start order.
    - ``REST_FOR_ONE``: that child and every child started after it.
    """

    ONE_FOR_ONE = "one_for_one"
    ONE_FOR_ALL = "one_for_all"
    REST_FOR_ONE = "rest_for_one"


@attrs.frozen(slots=True)
class Backoff:
    """Delay before the n-th consecutive restart of a child.

    ``delay(n) = min(max_s, initial_s * multiplier**(n-1))``, then moved by a uniformly drawn
    fraction in ``[-jitter, +jitter]`` of itself. The consecutive count resets once the child
    has run ``reset_after_s`` seconds without failing.
    """

    initial_s: float = 0.1
    max_s: float = 30.0
    multiplier: float = 2.0
    jitter: float = 0.1
    reset_after_s: float = 60.0

    def __attrs_post_init__(self) -> None:
        if self.initial_s < 0 or self.max_s < 0 or self.reset_after_s < 0:
            raise ValueError("Backoff times must be >= 0")
        if self.multiplier < 1:
            raise ValueError("Backoff.multiplier must be >= 1")
        if not 0 <= self.jitter < 1:
            raise ValueError("Backoff.jitter must be in [0, 1)")

    @classmethod
    def none(cls) -> Backoff:
        """Immediate restarts (OTP's default behaviour)."""
        return cls(initial_s=0.0, max_s=0.0, multiplier=1.0, jitter=0.0, reset_after_s=0.0)

    def base_delay(self, n: int) -> float:
        """The delay before the n-th consecutive restart (n >= 1), without jitter."""
        if n < 1:
            raise ValueError("restart number starts at 1")
        # Avoid float overflow for very large n: once past max_s it stays there.
        delay = self.initial_s
        for _ in range(n - 1):
            delay *= self.multiplier
            if delay >= self.max_s:
                return self.max_s
        return min(self.max_s, delay)

    def delay(self, n: int, rng: random.Random | None = None) -> float:
        base = self.base_delay(n)
        if self.jitter and base:
            r = (rng or random).uniform(-self.jitter, self.jitter)
            return max(0.0, base * (1.0 + r))
        return base


@attrs.frozen(slots=True)
class ChildSpec:
    """One child of a supervisor.

    ``run`` takes no arguments (bind them with ``functools.partial``). A child that is itself
    a supervisor is a ChildSpec whose ``run`` is ``sup.run``. ``shutdown_s`` is how long the
    supervisor waits for the child to finish after cancelling it.
    """

    name: str
    run: Callable[[], Awaitable[None]]
    restart: Restart = Restart.PERMANENT
    shutdown_s: float = 5.0
    backoff: Backoff = attrs.field(factory=Backoff)

    def __attrs_post_init__(self) -> None:
        if not self.name:
            raise ValueError("ChildSpec.name must not be empty")
        if self.shutdown_s < 0:
            raise ValueError("ChildSpec.shutdown_s must be >= 0")
