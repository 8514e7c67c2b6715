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

A batch taken is no longer in the mailbox: if the actor fails half-way through it, the rest would
be lost with that incarnation. ``processing(batch)`` is the one way to hand it on instead::

    batch = await inbox.receive_batch()
    with inbox.processing(batch) as work:
        for msg in work:
            handle(msg)

Semantics (``Batch``):

- A message is *done* once the loop over ``work`` moves on to the next one (or the loop ends),
  once ``work.done(msg)`` marks it, or when the block exits normally (then all are done).
- When anything propagates out of the block (an exception, ``trio.Cancelled`` at shutdown), the
  messages not done are put back at the front of the mailbox, in their order, and the exception
  goes on: the next incarnation (or a shutdown drain) takes them first.
- The message being handled when the block failed is not done, so it is delivered again: at
  least once. A message whose handling always fails therefore fails every incarnation until the
  supervisor's restart intensity is exceeded and it escalates. That is deliberate for the
  lossless inboxes (money, the record): nothing there may be skipped without a human deciding.
- Handlers that do not go message by message (a whole-batch write, sorting before handling) get
  the same guarantee at their own granularity: ``work.items`` is the list, ``work.each(subset)``
  iterates any subset with the same progress marking, ``work.add(more)`` lets a batch grow
  (later ``receive_batch`` calls), and anything not marked goes back as a whole.
- ``LatestMailbox`` puts a message back only if no newer one with the same key arrived meanwhile
  (the newer one supersedes it, exactly as conflation would have).

Single consumer: each mailbox is read by one actor at a time. Any number of senders.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable, Iterable, Iterator
from contextlib import contextmanager
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


class Batch(Generic[T]):
    """Messages taken from a mailbox and being processed (see the module docstring)."""

    __slots__ = ("items", "_done", "_where")

    def __init__(self, items: list[T]) -> None:
        self.items = items
        self._done = [False] * len(items)
        self._where: dict[int, deque[int]] | None = None  # id(msg) -> indices not done (each/done)

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[T]:
        i = 0
        while i < len(self.items):  # ``add`` may grow the batch while it is iterated
            yield self.items[i]
            self._done[i] = True
            i += 1

    def each(self, msgs: Iterable[T]) -> Iterator[T]:
        """Iterate ``msgs`` (messages of this batch, any order or subset), marking each done
        when the loop moves on."""
        for m in msgs:
            yield m
            self.done(m)

    def done(self, msg: T) -> None:
        """Mark ``msg`` (the first not-done occurrence of this very object) done."""
        if self._where is None:
            self._where = {}
            for i, m in enumerate(self.items):
                if not self._done[i]:
                    self._where.setdefault(id(m), deque()).append(i)
        left = self._where.get(id(msg))
        while left and self._done[left[0]]:  # already done by iteration
            left.popleft()
        if not left:
            raise ValueError("not a message of this batch, or already done")
        self._done[left.popleft()] = True

    def add(self, more: Iterable[T]) -> None:
        """Messages taken later (or from a side list) join the batch: put back with it."""
        for m in more:
            self.items.append(m)
            self._done.append(False)
            if self._where is not None:
                self._where.setdefault(id(m), deque()).append(len(self.items) - 1)

    def unfinished(self) -> list[T]:
        return [m for m, d in zip(self.items, self._done) if not d]


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

    def requeue(self, items: Iterable[T]) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    @contextmanager
    def processing(self, items: list[T]) -> Iterator[Batch[T]]:
        """Process ``items`` (taken from this mailbox) so that whatever is not done when the
        block fails goes back to the front of the mailbox (module docstring)."""
        batch = Batch(items)
        try:
            yield batch
        except BaseException:
            self.requeue(batch.unfinished())
            raise

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
        """Put messages taken by a receiver back at the front, in order (``processing`` does it
        for the unprocessed rest of a failed batch). May exceed the capacity briefly: these
        messages were already accepted."""
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

    def requeue(self, items: Iterable[T]) -> None:
        """Put messages taken by the receiver back at the front, in order, except those whose
        key has a newer pending message (superseded, as conflation would have). ``max_keys``
        may be exceeded briefly."""
        key = self._key
        pending = self._items
        front: dict[Hashable, T] = {}
        for m in items:
            k = key(m)
            if k not in pending:
                front[k] = m  # a later one of the same key replaces it in place (the newest wins)
        if not front:
            return
        self._received -= len(front)
        front.update(pending)
        self._items = front
        if self._receivers:
            self._receivers.unpark()

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
