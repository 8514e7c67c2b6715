"""Small pieces shared by the feed actors."""

from __future__ import annotations

from typing import Any

import trio

from kbot.actorkit import ActorStats, BadInputLog


class StatsBadInputLog(BadInputLog):
    """A ``BadInputLog`` that also counts each bad input in the actor's ``stats.errors`` at once
    (a feed sending only garbage must show up in health even though nothing is emitted)."""

    def __init__(self, source: str, stats: ActorStats) -> None:
        super().__init__(source)
        self.stats = stats

    def record(self, kind: str, sample: Any, detail: str | None = None) -> int:
        self.stats.errors += 1
        return super().record(kind, sample, detail)


def sole_error(eg: BaseExceptionGroup) -> Exception | None:
    """The single real error inside a nursery's exception group (ignoring ``Cancelled``), if any:
    re-raised as itself so a fatal ``KalshiAuthError`` reads as one."""
    leaves: list[BaseException] = []
    stack: list[BaseException] = [eg]
    while stack:
        e = stack.pop()
        if isinstance(e, BaseExceptionGroup):
            stack.extend(e.exceptions)
        elif not isinstance(e, trio.Cancelled):
            leaves.append(e)
    return leaves[0] if len(leaves) == 1 and isinstance(leaves[0], Exception) else None
