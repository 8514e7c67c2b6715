"""Mailbox semantics: capacity/backpressure, batching, conflation, stats, requeue, registry,
and a restarted actor reading messages sent while it was down."""

from __future__ import annotations

import pytest
import trio
import trio.testing
from hypothesis import given
from hypothesis import strategies as st

from supervision import Backoff, ChildSpec, LatestMailbox, Mailbox, Registry, Supervisor


async def test_bounded_mailbox_is_fifo_and_lossless():
    box: Mailbox[int] = Mailbox(10)
    for i in range(5):
        await box.send(i)
    assert [await box.receive() for _ in range(5)] == [0, 1, 2, 3, 4]


async def test_send_nowait_raises_when_full():
    box: Mailbox[int] = Mailbox(2)
    box.send_nowait(1)
    box.send_nowait(2)
    with pytest.raises(trio.WouldBlock):
        box.send_nowait(3)
    assert box.stats().depth == 2


async def test_send_blocks_when_full_until_receiver_makes_room(autojump_clock):
    box: Mailbox[int] = Mailbox(1)
    sent = []

    async def sender() -> None:
        for i in range(3):
            await box.send(i)
            sent.append(i)

    async with trio.open_nursery() as n:
        n.start_soon(sender)
        await trio.sleep(1)
        assert sent == [0]  # the second send waits
        assert await box.receive() == 0
        await trio.sleep(1)
        assert sent == [0, 1]
        assert await box.receive_batch() == [1]
        assert await box.receive() == 2
    assert box.stats().peak == 1


async def test_cancelled_send_leaves_mailbox_unchanged(autojump_clock):
    box: Mailbox[int] = Mailbox(1)
    box.send_nowait(0)
    with trio.move_on_after(1):
        await box.send(1)
    assert box.stats().depth == 1 and box.stats().sent == 1
    assert await box.receive() == 0


async def test_receive_batch_takes_everything_ready_without_waiting_again():
    box: Mailbox[int] = Mailbox(100)
    for i in range(7):
        box.send_nowait(i)
    assert await box.receive_batch(max_items=3) == [0, 1, 2]
    assert await box.receive_batch() == [3, 4, 5, 6]
    with pytest.raises(ValueError):
        await box.receive_batch(max_items=0)


async def test_receive_batch_waits_for_first_message(autojump_clock):
    box: Mailbox[str] = Mailbox(10)

    async def later() -> None:
        await trio.sleep(5)
        box.send_nowait("a")
        box.send_nowait("b")

    async with trio.open_nursery() as n:
        n.start_soon(later)
        t0 = trio.current_time()
        batch = await box.receive_batch()
        assert trio.current_time() - t0 == pytest.approx(5)
    # the first message wakes the receiver; the second was sent before it ran
    assert batch == ["a", "b"]


async def test_receive_is_a_checkpoint_even_when_ready():
    box: Mailbox[int] = Mailbox(10)
    box.send_nowait(1)
    with trio.CancelScope() as cs:
        cs.cancel()
        with pytest.raises(trio.Cancelled):
            await box.receive()
    assert box.stats().depth == 1  # nothing was taken


async def test_stats_count_depth_peak_sent_received():
    box: Mailbox[int] = Mailbox(5)
    for i in range(4):
        box.send_nowait(i)
    await box.receive_batch(max_items=3)
    box.send_nowait(9)
    s = box.stats()
    assert (s.depth, s.peak, s.sent, s.received, s.capacity) == (2, 4, 5, 3, 5)


async def test_requeue_puts_unprocessed_messages_back_in_front():
    box: Mailbox[int] = Mailbox(3)
    for i in range(3):
        box.send_nowait(i)
    batch = await box.receive_batch()
    box.send_nowait(3)
    box.requeue(batch[1:])
    assert await box.receive_batch() == [1, 2, 3]
    assert box.stats().received == 4


@given(st.lists(st.tuples(st.sampled_from("abcde"), st.integers()), max_size=60))
def test_latest_mailbox_keeps_newest_per_key_in_first_pending_order(msgs):
    box: LatestMailbox[tuple[str, int]] = LatestMailbox(key=lambda m: m[0])
    for m in msgs:
        box.send_nowait(m)
    newest: dict[str, tuple[str, int]] = {}
    for m in msgs:
        newest[m[0]] = m  # dict keeps first-insertion order
    assert box.receive_nowait() == next(iter(newest.values())) if newest else len(box) == 0
    rest = list(newest.values())[1:]
    got = []
    while len(box):
        got.append(box.receive_nowait())
    assert got == rest
    s = box.stats()
    assert s.sent == len(msgs) and s.replaced == len(msgs) - len(newest)


async def test_latest_mailbox_conflates_and_batches():
    box: LatestMailbox[tuple[str, int]] = LatestMailbox(key=lambda m: m[0])
    for i in range(100):
        box.send_nowait(("spot", i))
        box.send_nowait(("quote", i))
    assert await box.receive_batch() == [("spot", 99), ("quote", 99)]
    s = box.stats()
    assert (s.depth, s.peak, s.sent, s.received, s.replaced) == (0, 2, 200, 2, 198)


async def test_latest_mailbox_max_keys():
    box: LatestMailbox[tuple[str, int]] = LatestMailbox(key=lambda m: m[0], max_keys=1)
    box.send_nowait(("a", 1))
    box.send_nowait(("a", 2))  # replacing is always possible
    with pytest.raises(trio.WouldBlock):
        box.send_nowait(("b", 1))
    assert await box.receive_batch(max_items=5) == [("a", 2)]


def test_registry():
    reg = Registry()
    box = reg.register("pricer:X", LatestMailbox(key=lambda m: m))
    assert reg.lookup("pricer:X") is box and box.name == "pricer:X"
    assert reg.lookup("nope") is None
    with pytest.raises(ValueError):
        reg.register("pricer:X", Mailbox(1))
    assert "pricer:X" in reg and len(reg) == 1 and reg.names() == ["pricer:X"]
    assert reg.unregister("pricer:X") is box and reg.lookup("pricer:X") is None
    assert reg.unregister("pricer:X") is None


async def test_restarted_actor_receives_messages_sent_while_it_was_down(autojump_clock):
    """The mailbox belongs to the registry: a crashed actor's replacement reads on, including
    what arrived during its backoff, and what the crashed incarnation had taken but not
    processed (requeued)."""
    reg = Registry()
    inbox = reg.register("worker", Mailbox(100))
    processed: list[int] = []
    incarnations = []

    async def worker() -> None:
        box = reg.lookup("worker")
        incarnations.append(trio.current_time())
        while True:
            batch = await box.receive_batch()
            for i, msg in enumerate(batch):
                if msg == 3 and len(incarnations) == 1:
                    box.requeue(batch[i + 1 :])  # hand the unprocessed rest on
                    raise RuntimeError("poison pill on first incarnation")
                processed.append(msg)

    s = Supervisor("s", [ChildSpec("worker", worker, backoff=Backoff(initial_s=10, jitter=0))], log_events=False)
    async with trio.open_nursery() as n:
        await n.start(s.run)
        for i in range(5):
            inbox.send_nowait(i)
        await trio.sleep(1)  # worker crashed on 3, waits 10 s to restart
        assert processed == [0, 1, 2]
        for i in range(5, 8):
            inbox.send_nowait(i)  # sent while the worker is down
        assert inbox.stats().depth == 4
        await trio.sleep(20)
        n.cancel_scope.cancel()
    assert len(incarnations) == 2
    assert processed == [0, 1, 2, 4, 5, 6, 7]


async def test_many_senders_one_batching_receiver(autojump_clock):
    box: Mailbox[tuple[int, int]] = Mailbox(8)
    got: list[tuple[int, int]] = []

    async def sender(k: int) -> None:
        for i in range(50):
            await box.send((k, i))

    async def receiver() -> None:
        while len(got) < 200:
            got.extend(await box.receive_batch())

    async with trio.open_nursery() as n:
        for k in range(4):
            n.start_soon(sender, k)
        n.start_soon(receiver)
    assert len(got) == 200
    for k in range(4):
        assert [i for kk, i in got if kk == k] == list(range(50))  # per-sender order kept
    assert box.stats().peak <= 8
