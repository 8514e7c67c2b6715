"""Clocks. Actors read time only through a clock object they are given, never ``time.time()``.

- ``WallClock``: live trading; ``now()`` is ``time.time()``.
- ``ScaledClock``: the simulated venue's clock, running ``speed`` times faster than real time
  from an epoch anchor (``speed=60`` turns a 15-minute market into 15 s). Built on
  ``trio.current_time()``, so under ``autojump_clock`` tests it runs as fast as the CPU allows.
  The simulated venue and a bot in the same process share one; a bot talking to a standalone
  sim builds an identical one from the sim's ``/sim/clock`` advertisement.

``sleep(s)`` waits ``s`` seconds *of this clock* (so ``s / speed`` real seconds).
"""

from __future__ import annotations

import time
from typing import Protocol

import attrs
import trio


class Clock(Protocol):
    speed: float

    def now(self) -> float:
        """Epoch seconds (UTC) on this clock."""
        ...

    async def sleep(self, seconds: float) -> None: ...

    async def sleep_until(self, epoch: float) -> None: ...


class WallClock:
    speed = 1.0

    def now(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await trio.sleep(max(0.0, seconds))

    async def sleep_until(self, epoch: float) -> None:
        await trio.sleep(max(0.0, epoch - time.time()))


@attrs.define
class ScaledClock:
    """``now() = epoch0 + (trio.current_time() - mono0) * speed``. Must be created and used
    inside one ``trio.run``; ``mono0`` defaults to the trio time at creation."""

    epoch0: float
    speed: float = 1.0
    mono0: float = attrs.field(factory=trio.current_time)

    def __attrs_post_init__(self) -> None:
        if not self.speed > 0:
            raise ValueError("clock speed must be > 0")

    def now(self) -> float:
        return self.epoch0 + (trio.current_time() - self.mono0) * self.speed

    async def sleep(self, seconds: float) -> None:
        await trio.sleep(max(0.0, seconds) / self.speed)

    async def sleep_until(self, epoch: float) -> None:
        await trio.sleep(max(0.0, epoch - self.now()) / self.speed)

    def advertise(self) -> dict[str, float]:
        """What a standalone sim publishes at ``/sim/clock``: the clock's epoch now, its speed,
        and the wall time of that reading."""
        return {"epoch": self.now(), "speed": self.speed, "wall": time.time()}

    @classmethod
    def follow(cls, epoch: float, speed: float, rtt_s: float = 0.0, wall: float | None = None) -> ScaledClock:
        """A clock following an advertised one. With ``wall`` (the advertiser's wall time of the
        reading, trusted when both share a machine's clock) the epoch is projected to this
        process's wall time now, which is exact; without it, ``epoch`` was read ``rtt_s`` real
        seconds ago round-trip and half of that is assumed to have elapsed since."""
        if wall is not None:
            return cls(epoch0=epoch + (time.time() - wall) * speed, speed=speed)
        return cls(epoch0=epoch + (rtt_s / 2.0) * speed, speed=speed)
