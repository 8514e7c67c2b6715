"""actorkit.deliver / Tee: no scheduler pass when the outbox has room, backpressure when full."""

from __future__ import annotations

import trio
import trio.testing

from kbot.actorkit import Collect, Tee, deliver
from supervision import Mailbox


async def test_deliver_sends_now_or_waits_for_room(autojump_clock):
    box: Mailbox = Mailbox(1)
    await deliver(box, 1)
    assert box.receive_nowait() == 1
    box.send_nowait("full")
    done = trio.Event()

    async def sender() -> None:
        await deliver(box, 2)
        done.set()

    async with trio.open_nursery() as n:
        n.start_soon(sender)
        await trio.sleep(1)
        assert not done.is_set() and len(box) == 1  # waiting: nothing dropped, nothing forced in
        assert box.receive_nowait() == "full"
        await done.wait()
    assert box.receive_nowait() == 2


async def test_tee_delivers_to_every_target_in_order_with_backpressure(autojump_clock):
    a, c = Collect(), Collect()
    b: Mailbox = Mailbox(1)
    b.send_nowait("x")
    tee = Tee(a, b, c)

    async def consume() -> None:
        await trio.sleep(1)
        assert b.receive_nowait() == "x"

    async with trio.open_nursery() as n:
        n.start_soon(consume)
        await tee.send("m")  # waits for b, then c
    assert a.items == ["m"] and b.receive_nowait() == "m" and c.items == ["m"]


async def test_deliver_awaits_outboxes_without_a_synchronous_path():
    class AsyncOnly:
        def __init__(self) -> None:
            self.got: list[str] = []

        async def send(self, msg: str) -> None:
            self.got.append(msg)

        def send_nowait(self, msg: str) -> None:
            raise trio.WouldBlock

    out = AsyncOnly()
    await deliver(out, "y")
    assert out.got == ["y"]


async def test_tee_never_gives_an_earlier_target_a_duplicate(autojump_clock):
    """Issue 12: a full later target made ``send_nowait`` raise after the first target took the
    message, and the retry (``deliver`` awaits ``send``) sent the first target a duplicate."""
    first: Mailbox = Mailbox(10)
    later: Mailbox = Mailbox(1)
    later.send_nowait("full")
    tee = Tee(first, later)

    async def make_room() -> None:
        await trio.sleep(1)
        assert later.receive_nowait() == "full"

    async with trio.open_nursery() as n:
        n.start_soon(make_room)
        await deliver(tee, "m")  # send_nowait: first takes it, later is full -> WouldBlock -> send
    assert first.take_ready() == ["m"] and later.take_ready() == ["m"]
    # a second message is delivered afresh to every target
    await deliver(tee, "n")
    assert first.take_ready() == ["n"] and later.take_ready() == ["n"]


async def test_tee_retried_with_send_nowait_and_after_a_cancelled_send(autojump_clock):
    a: Mailbox = Mailbox(10)
    b: Mailbox = Mailbox(1)
    c = Collect()
    b.send_nowait("full")
    tee = Tee(a, b, c)
    msg = object()
    for _ in range(3):  # retried while b stays full: a gets it once
        try:
            tee.send_nowait(msg)
        except trio.WouldBlock:
            pass
    with trio.move_on_after(1):
        await tee.send(msg)  # cancelled while waiting on b
    assert a.take_ready() == [msg] and c.items == []
    b.receive_nowait()
    tee.send_nowait(msg)
    assert a.take_ready() == [] and b.take_ready() == [msg] and c.items == [msg]
