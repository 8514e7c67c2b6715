"""Mailboxes that outlive the actor that reads them.

A mailbox belongs to the supervisor/registry, not to one incarnation of an actor: when an
actor crashes and is restarted, the new incarnation is handed the same mailbox and reads on
from where the old one stopped. Messages sent while the actor was down wait in it.

Two policies, chosen per edge of the actor graph:

- ``Mailbox(capacity)``: bounded and lossless. ``send`` waits while the mailbox is full
  (backpressure), ``send_nowait`` raises ``trio.WouldBlock``. For anything that changes money
  or the record (decisions, orders, fills, ledger and recorder events).
- ``LatestMailbox(key)``: conflating. ``send_nowait`` never blocks; a message replaces a
  pending one with the same ``key(msg)``, keeping that key's place in the queue. For market
  data: a slow reader always sees the newest value per key, never a backlog.

Both support ``receive_batch``: wait for one message, then take everything already there
without waiting again. Draining in batches is what makes a hop cheap (one task wake-up per
batch instead of per message).

Single consumer: each mailbox is read by one actor at a time. Any number of senders.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable, Iterable
from typing import Generic, TypeVar

import attrs
import trio
from trio.lowlevel import ParkingLot, cancel_shielded_checkpoint, checkpoint_if_cancelled

T = TypeVar("T")


@attrs.frozen(slots=True)
class MailboxStats:
    depth: int
    peak: int
    sent: int
    received: int
    capacity: int | None
    replaced: int = 0
    suppressed: int = 0  # LatestMailbox: messages stored without waking the reader (put_quiet)


class _Base(Generic[T]):
    __slots__ = ("name", "_peak", "_sent", "_received", "_receivers")

    def __init__(self, name: str = "") -> None:
        self.name = name
        self._peak = 0
        self._sent = 0
        self._received = 0
        self._receivers = ParkingLot()

    def __len__(self) -> int:  # pragma: no cover - overridden
        raise NotImplementedError

    async def _wait_nonempty(self) -> None:
        """Wait until at least one message is pending; always a checkpoint."""
        if len(self):
            await checkpoint_if_cancelled()
            # We will return without blocking: make this a full checkpoint without the risk of
            # being cancelled after a message has been taken.
            await cancel_shielded_checkpoint()
            return
        while not len(self):
            await self._receivers.park()

    def _take(self, n: int) -> list[T]:  # pragma: no cover - overridden
        raise NotImplementedError

    def send_nowait(self, item: T) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    async def send(self, item: T) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def stats(self) -> MailboxStats:  # pragma: no cover - overridden
        raise NotImplementedError

    async def receive(self) -> T:
        """Wait for and take the oldest pending message."""
        await self._wait_nonempty()
        return self._take(1)[0]

    async def receive_batch(self, max_items: int | None = None) -> list[T]:
        """Wait for at least one message, then take every message already pending (up to
        ``max_items``) without waiting again."""
        if max_items is not None and max_items < 1:
            raise ValueError("max_items must be >= 1")
        await self._wait_nonempty()
        n = len(self) if max_items is None else min(max_items, len(self))
        return self._take(n)

    def receive_nowait(self) -> T:
        if not len(self):
            raise trio.WouldBlock
        return self._take(1)[0]

    def take_ready(self) -> list[T]:
        """Take every pending message without waiting (possibly none)."""
        n = len(self)
        return self._take(n) if n else []


class Mailbox(_Base[T]):
    """Bounded, lossless, FIFO."""

    __slots__ = ("_items", "capacity", "_senders")

    def __init__(self, capacity: int, name: str = "") -> None:
        if capacity < 1:
            raise ValueError("Mailbox capacity must be >= 1")
        super().__init__(name)
        self.capacity = capacity
        self._items: deque[T] = deque()
        self._senders = ParkingLot()

    def __len__(self) -> int:
        return len(self._items)

    def _put(self, item: T) -> None:
        self._items.append(item)
        self._sent += 1
        n = len(self._items)
        if n > self._peak:
            self._peak = n
        if self._receivers:  # ParkingLot.unpark costs ~1 us even with nobody parked
            self._receivers.unpark()

    def send_nowait(self, item: T) -> None:
        """Put ``item`` in the mailbox or raise ``trio.WouldBlock`` when it is full."""
        if len(self._items) >= self.capacity:
            raise trio.WouldBlock
        self._put(item)

    async def send(self, item: T) -> None:
        """Put ``item`` in the mailbox, waiting while it is full. Cancellation before the
        item is in leaves the mailbox unchanged."""
        await checkpoint_if_cancelled()
        blocked = False
        while len(self._items) >= self.capacity:
            blocked = True
            await self._senders.park()
        self._put(item)
        if not blocked:
            await cancel_shielded_checkpoint()

    def _take(self, n: int) -> list[T]:
        items = self._items
        out = [items.popleft() for _ in range(n)]
        self._received += n
        if self._senders:
            self._senders.unpark(count=n)
        return out

    def requeue(self, items: Iterable[T]) -> None:
        """Put messages taken by a receiver back at the front, in order (e.g. an actor that
        fails mid-batch hands the unprocessed rest to its next incarnation). May exceed the
        capacity briefly: these messages were already accepted."""
        items = list(items)
        self._items.extendleft(reversed(items))
        self._received -= len(items)
        if items and self._receivers:
            self._receivers.unpark()

    def stats(self) -> MailboxStats:
        return MailboxStats(
            depth=len(self._items),
            peak=self._peak,
            sent=self._sent,
            received=self._received,
            capacity=self.capacity,
        )


class LatestMailbox(_Base[T]):
    """Conflating by key: at most one pending message per key, always the newest.

    A replacing message keeps the place of the one it replaces, so keys are served in the
    order they first became pending (no key can starve another). The number of pending
    messages is bounded by the number of distinct keys (``max_keys`` enforces a limit if
    given: a message with a new key beyond it raises ``trio.WouldBlock``).

    ``put_quiet`` stores a message like ``send_nowait`` but does not wake a waiting reader: the
    reader sees the newest value the next time something else wakes it (or its own timeout
    does). For a sender that knows the update cannot matter to the reader right now, it saves
    a scheduler pass per message.
    """

    __slots__ = ("_items", "_key", "_replaced", "max_keys", "_suppressed")

    def __init__(self, key: Callable[[T], Hashable], name: str = "", max_keys: int | None = None) -> None:
        super().__init__(name)
        self._key = key
        self._items: dict[Hashable, T] = {}
        self._replaced = 0
        self.max_keys = max_keys
        self._suppressed = 0

    def __len__(self) -> int:
        return len(self._items)

    def send_nowait(self, item: T) -> None:
        """Never blocks (except past ``max_keys``): replaces a pending message with the same key."""
        self._store(item)
        if self._receivers:
            self._receivers.unpark()

    def put_quiet(self, item: T) -> None:
        """Store like ``send_nowait`` without waking the reader."""
        self._store(item)
        self._suppressed += 1

    def _store(self, item: T) -> None:
        k = self._key(item)
        items = self._items
        if k in items:
            self._replaced += 1
        elif self.max_keys is not None and len(items) >= self.max_keys:
            raise trio.WouldBlock
        items[k] = item
        self._sent += 1
        n = len(items)
        if n > self._peak:
            self._peak = n

    async def send(self, item: T) -> None:
        await checkpoint_if_cancelled()
        self.send_nowait(item)
        await cancel_shielded_checkpoint()

    def _take(self, n: int) -> list[T]:
        items = self._items
        if n >= len(items):
            out = list(items.values())
            items.clear()
        else:
            out = []
            for k in list(items)[:n]:
                out.append(items.pop(k))
        self._received += len(out)
        return out

    def stats(self) -> MailboxStats:
        return MailboxStats(
            depth=len(self._items),
            peak=self._peak,
            sent=self._sent,
            received=self._received,
            capacity=self.max_keys,
            replaced=self._replaced,
            suppressed=self._suppressed,
        )


class Registry:
    """Name -> mailbox. Owned by the application (or a supervisor), so mailboxes survive the
    actors that read them."""

    __slots__ = ("_boxes",)

    def __init__(self) -> None:
        self._boxes: dict[str, _Base] = {}

    def register(self, name: str, mailbox: _Base) -> _Base:
        if name in self._boxes:
            raise ValueError(f"a mailbox named {name!r} is already registered")
        self._boxes[name] = mailbox
        if not mailbox.name:
            mailbox.name = name
        return mailbox

    def lookup(self, name: str) -> _Base | None:
        return self._boxes.get(name)

    def unregister(self, name: str) -> _Base | None:
        return self._boxes.pop(name, None)

    def names(self) -> list[str]:
        return list(self._boxes)

    def items(self) -> list[tuple[str, _Base]]:
        return list(self._boxes.items())

    def __contains__(self, name: str) -> bool:
        return name in self._boxes

    def __len__(self) -> int:
        return len(self._boxes)
