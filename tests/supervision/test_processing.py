"""``Mailbox.processing``: the runtime-level requeue (issue 12). Whatever a failing handler had
not finished goes back to the front of the mailbox, in order, for the next incarnation; what it
finished does not come back; the message it failed on is delivered again (at least once)."""

from __future__ import annotations

import functools

import pytest
import trio
from hypothesis import given
from hypothesis import strategies as st

from supervision import Backoff, ChildSpec, LatestMailbox, Mailbox, Restart, Supervisor


async def test_the_unfinished_rest_goes_back_in_front_in_order():
    box: Mailbox[int] = Mailbox(100)
    for i in range(6):
        box.send_nowait(i)
    batch = await box.receive_batch(max_items=5)
    box.send_nowait(99)  # arrived meanwhile: stays behind the put-back rest
    seen = []
    with pytest.raises(RuntimeError), box.processing(batch) as work:
        for m in work:
            if m == 2:
                raise RuntimeError("handler failed on 2")
            seen.append(m)
    assert seen == [0, 1]
    assert box.take_ready() == [2, 3, 4, 5, 99]  # 2 again (at least once), then the rest, then newer
    assert box.stats().received == box.stats().sent == 7  # the put-back ones are counted once


async def test_a_batch_that_completes_is_gone_and_cancellation_puts_back(autojump_clock):
    box: Mailbox[int] = Mailbox(10)
    for i in range(3):
        box.send_nowait(i)
    with box.processing(await box.receive_batch()) as work:
        assert list(work) == [0, 1, 2]
    assert len(box) == 0
    for i in range(3):
        box.send_nowait(i)
    with trio.move_on_after(1):
        with box.processing(await box.receive_batch()) as work:
            for m in work:
                await trio.sleep(10)  # cancelled while handling 0 (a shutdown)
    assert box.take_ready() == [0, 1, 2]


async def test_whole_batch_handlers_and_explicit_marks():
    box: Mailbox[str] = Mailbox(10)
    for m in "abcd":
        box.send_nowait(m)
    # a whole-batch handler (the recorder's write): nothing marked, all back on failure
    with pytest.raises(OSError), box.processing(await box.receive_batch(max_items=2)) as work:
        work.add(await box.receive_batch())  # collected more before writing: goes back with it
        raise OSError("disk full")
    assert box.take_ready() == list("abcd")
    # out-of-order handling (the decision actor sorts first): each() and done() mark progress
    for m in "abcd":
        box.send_nowait(m)
    with pytest.raises(KeyError), box.processing(await box.receive_batch()) as work:
        work.done(work.items[3])
        for m in work.each([work.items[2], work.items[0], work.items[1]]):
            if m == "a":
                raise KeyError(m)
    assert box.take_ready() == ["a", "b"]


async def test_latest_mailbox_puts_back_only_what_was_not_superseded():
    box: LatestMailbox[tuple[str, int]] = LatestMailbox(lambda m: m[0])
    for m in [("x", 1), ("y", 1), ("z", 1)]:
        box.send_nowait(m)
    batch = await box.receive_batch()
    box.send_nowait(("y", 2))  # newer than the taken ("y", 1)
    box.send_nowait(("w", 1))
    with pytest.raises(ValueError), box.processing(batch) as work:
        for _ in work:
            raise ValueError
    assert box.take_ready() == [("x", 1), ("z", 1), ("y", 2), ("w", 1)]


@given(n=st.integers(1, 30), fail_at=st.integers(0, 40), more=st.integers(0, 5))
def test_nothing_lost_nothing_done_twice(n, fail_at, more):
    """Property: after a failure at any point, done + put back = taken (in order), and every
    message is done exactly once across the failed pass and a second, successful one."""

    async def main() -> None:
        box: Mailbox[int] = Mailbox(100)
        for i in range(n + more):
            box.send_nowait(i)
        done: list[int] = []
        batch = await box.receive_batch(max_items=n)
        try:
            with box.processing(batch) as work:
                for m in work:
                    if m == fail_at:
                        raise RuntimeError
                    done.append(m)
        except RuntimeError:
            pass
        with box.processing(box.take_ready()) as work:
            done.extend(work)
        assert done == list(range(n + more))

    trio.run(main)


async def test_a_supervised_actor_loses_nothing_across_crashes(autojump_clock):
    """The shape every lossless actor uses: each crash mid-batch is restarted by its supervisor,
    and the next incarnation handles the rest, each message exactly once (its effects are kept
    in state that outlives incarnations)."""
    box: Mailbox[int] = Mailbox(1000)
    handled: list[int] = []
    crashed: set[int] = set()

    async def actor() -> None:
        while True:
            batch = await box.receive_batch()
            with box.processing(batch) as work:
                for m in work:
                    if m % 7 == 3 and m not in crashed:
                        crashed.add(m)
                        raise RuntimeError(f"crash on {m}")
                    handled.append(m)

    sup = Supervisor("root", [ChildSpec("actor", functools.partial(actor), restart=Restart.PERMANENT, backoff=Backoff.none())],
                     max_restarts=100, within_s=1)
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        for i in range(100):
            await box.send(i)
        while len(handled) < 100:
            await trio.sleep(0.01)
        nursery.cancel_scope.cancel()
    assert handled == list(range(100)) and len(crashed) == 14
