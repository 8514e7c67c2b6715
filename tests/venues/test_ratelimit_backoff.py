"""Token buckets sized from Kalshi's tiers, the async limiter on a virtual clock, backoff."""

from __future__ import annotations

import random

import pytest
import trio

from kbot.venues.backoff import Backoff, BackoffPolicy
from kbot.venues.ratelimit import RateLimiter, TokenBucket, tier_buckets


def test_tier_buckets_follow_the_documented_table():
    assert tier_buckets("basic") == ((200, 400), (100, 100))
    assert tier_buckets("advanced") == ((300, 600), (300, 600))
    assert tier_buckets("expert") == ((600, 600), (600, 1200))
    assert tier_buckets("prestige") == ((10000, 10000), (8000, 16000))
    (rr, rc), (wr, wc) = tier_buckets("basic", 0.5)
    assert (rr, rc, wr, wc) == (100, 200, 50, 50)
    with pytest.raises(ValueError, match="tier"):
        tier_buckets("platinum")


def test_token_bucket_arithmetic():
    b = TokenBucket(rate=10, capacity=20)
    assert b.take(20, now=0.0)
    assert not b.take(10, now=0.5)  # 5 tokens refilled
    assert b.wait_time(10, now=0.5) == pytest.approx(0.5)
    assert b.take(10, now=1.0)
    assert b.wait_time(5, now=100.0) == 0 and b.tokens == 20  # capped at capacity
    b.drain(100.0)
    assert b.tokens == 0
    with pytest.raises(ValueError, match="more than the bucket holds"):
        b.wait_time(21, now=0)


async def test_limiter_paces_requests(autojump_clock):
    lim = RateLimiter(TokenBucket(20, 40), TokenBucket(10, 10))
    t0 = trio.current_time()
    for _ in range(6):  # 60 tokens: 40 at once, 20 more at 20/s
        await lim.acquire(10, write=False)
    assert trio.current_time() - t0 == pytest.approx(1.0)
    t1 = trio.current_time()
    await lim.acquire(10, write=True)  # the write bucket is separate and full
    assert trio.current_time() == t1
    lim.check(10, write=True)
    with pytest.raises(ValueError, match="split"):
        lim.check(11, write=True)


async def test_penalize_empties_bucket(autojump_clock):
    lim = RateLimiter(TokenBucket(10, 10), TokenBucket(10, 10))
    lim.penalize(write=False)
    t0 = trio.current_time()
    await lim.acquire(10, write=False)
    assert trio.current_time() - t0 == pytest.approx(1.0)


def test_backoff_grows_caps_jitters_and_resets():
    p = BackoffPolicy(initial_s=1, max_s=8, multiplier=2, jitter=0.5)
    rng = random.Random(1)
    for n, base in [(1, 1), (2, 2), (3, 4), (4, 8), (9, 8)]:
        for _ in range(20):
            d = p.delay(n, rng)
            assert base * 0.5 <= d <= base
    b = Backoff(BackoffPolicy(initial_s=1, max_s=100, jitter=0))
    assert [b.next() for _ in range(4)] == [1, 2, 4, 8]
    b.reset()
    assert b.next() == 1
