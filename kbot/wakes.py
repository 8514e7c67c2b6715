"""Wake marks: where in the stream of inputs each actor acted, so a replay acts there too.

A live actor acts when Trio runs it: which inputs it has taken by then (a pricer between two book
batches, the spot index before or after a tick, the decision actor before or after the ledger's
portfolio) is scheduling, in no input. ``kbot run --record`` writes it down: each time one of the
actors below wakes and acts, it announces it (``Wakes.mark``) and the recording gets an ``A``
record (``docs/RECORDING.md``) at that place among the recorded inputs, with the actor's clock.

A replay of such a recording (``Wakes.follow``) hands each mark to its actor (``deliver``) when
it reaches it, and the actor then wakes exactly there, at the mark's time, on what its inbox
holds (every message sent to it before the mark; a lossless FIFO inbox: as many as the live
actor took), and at no other time: no wake-ups of its own, no timers. So each actor sees the
inputs the live one saw, and the run reproduces the live decisions rather than the decisions
an infinitely fast kbot would have made.

The actors marked: each pricer (``pricer``, channel: the ticker; what it priced on,
``actors.pricer.pricing_mark``), ``spot_index``, ``decision``, ``executor`` and ``ledger``
(what: the number of lossless inbox messages taken, where they have one). Everything else (the
market registry, the REST feed, the scorer) runs on its own in a replay, as before.

``WakeCounts``: a replay's tally: marks delivered, marks for an actor not running
(``unmatched``), marks where the actor held other inputs than the live one (``differed``).
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from kbot.actorkit import BadInputLog, deliver
from supervision import Mailbox

ACTORS = frozenset(("pricer", "spot_index", "decision", "executor", "ledger"))  # the actors marked
Announce = Callable[[str, str, float, str], None]  # (actor, channel, time, what)
_BAD = BadInputLog("wakes")
Mark = tuple[float, str]  # (the live actor's clock, what it acted on)


@attrs.define
class WakeCounts:
    delivered: int = 0
    unmatched: int = 0
    differed: int = 0
    samples: list[str] = attrs.field(factory=list)  # the first marks that differed
    missing: list[str] = attrs.field(factory=list)  # the first marks of an actor not running

    def compare(self, who: str, live: str, here: str) -> None:
        """What the live actor acted on against what the replay's holds at the same mark."""
        if live != here:
            self.differed += 1
            if len(self.samples) < 10:
                self.samples.append(f"{who}: live [{live}] replay [{here}]")


class Wakes:
    """Live: ``announce`` set (the recording's tap): ``mark`` writes. Replay: after ``follow()``
    every marked actor gets a mailbox of its marks (``box``) and acts only on them."""

    def __init__(self) -> None:
        self.announce: Announce | None = None
        self.boxes: dict[str, Mailbox[Mark]] | None = None
        self.kinds: frozenset[str] = frozenset()
        self.counts = WakeCounts()

    def follow(self, kinds: frozenset[str] = ACTORS) -> None:
        """From now on the actors of ``kinds`` (``pricer`` for every pricer) act only at the
        marks ``deliver`` gives them; the others run on their own (call before the tree starts)."""
        self.boxes = {}
        self.kinds = kinds

    def box(self, name: str) -> Mailbox[Mark] | None:
        """The mailbox of ``name``'s marks when it follows them (created on first use), else None."""
        if self.boxes is None or name.split(":", 1)[0] not in self.kinds:
            return None
        b = self.boxes.get(name)
        if b is None:
            b = self.boxes[name] = Mailbox(64, name=f"{name}:marks")
        return b

    def drop(self, name: str) -> None:
        if self.boxes is not None:
            self.boxes.pop(name, None)

    async def deliver(self, name: str, t: float, what: str, running: bool = True) -> None:
        """``name``'s live incarnation acted at ``t`` on ``what``: so does this one (counted as
        unmatched when it is not running; ignored when it does not follow marks)."""
        if self.boxes is None or name.split(":", 1)[0] not in self.kinds:
            return
        box = self.box(name) if running else None
        if box is None:
            self.counts.unmatched += 1
            if len(self.counts.missing) < 10:
                self.counts.missing.append(f"{name} at {t!r}")
            return
        self.counts.delivered += 1
        await deliver(box, (t, what))


def announcer(wakes: Wakes | None) -> Announce | None:
    """Where an actor announces its wake-ups (the recording's tap, bound once per actor run),
    or None when nothing is recorded: the hot path's whole cost is then one None check."""
    return None if wakes is None else wakes.announce


def marks_of(wakes: Wakes | None, name: str) -> Mailbox[Mark] | None:
    """``name``'s marks when it follows them in a replay (``Wakes.box``), else None."""
    return None if wakes is None else wakes.box(name)


async def next_mark(box: Mailbox[Mark]) -> Mark:
    """The next mark of an actor that follows them."""
    return await box.receive()


def take(inbox: Mailbox[object], took: str) -> list[object]:
    """The first ``took`` (a mark's count) messages of a lossless FIFO inbox (fewer if it holds
    fewer): what the live actor took at this mark; the rest stays for the next one. A count that
    is not one (a damaged record) takes everything, logged once."""
    got = inbox.take_ready()
    try:
        n = int(took)
    except ValueError:
        _BAD.record("bad_wake_count", took)
        return got
    if len(got) > n:
        inbox.requeue(got[n:])
        del got[n:]
    return got
