"""``messages.fast_builder``: the slot-setting constructor of the per-delta ``Quote`` builds
exactly what the attrs ``__init__`` builds, and refuses classes whose ``__init__`` does more."""

from __future__ import annotations

from decimal import Decimal

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kbot.messages import Quote, fast_builder, new_quote

dec = st.none() | st.decimals(min_value=0, max_value=1, places=4).map(Decimal)
levels = st.lists(st.tuples(st.decimals(min_value=0, max_value=1, places=4), st.decimals(min_value=0, max_value=10**6, places=2)),
                  max_size=4).map(tuple)
finite = st.floats(allow_nan=False, allow_infinity=False)


@given(ts=finite, ticker=st.text(max_size=30), yb=dec, ya=dec, nb=dec, na=dec, ybs=dec, yas=dec, lp=dec, vol=dec, oi=dec,
       yasks=levels, nasks=levels, source=st.sampled_from(["book", "rest", "ticker"]), stale=st.booleans(), recv=finite,
       mono=finite)
def test_new_quote_equals_the_attrs_constructor(ts, ticker, yb, ya, nb, na, ybs, yas, lp, vol, oi, yasks, nasks, source, stale,
                                               recv, mono):
    fast = new_quote(ts, ticker, yb, ya, nb, na, ybs, yas, lp, vol, oi, yasks, nasks, source, stale, recv, mono)
    slow = Quote(ts=ts, ticker=ticker, yes_bid=yb, yes_ask=ya, no_bid=nb, no_ask=na, yes_bid_size=ybs, yes_ask_size=yas,
                 last_price=lp, volume=vol, open_interest=oi, yes_asks=yasks, no_asks=nasks, source=source, stale=stale,
                 recv_ts=recv, mono=mono)
    assert type(fast) is Quote
    assert fast == slow and hash(fast) == hash(slow) and repr(fast) == repr(slow)
    assert attrs.asdict(fast, recurse=False) == attrs.asdict(slow, recurse=False)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        fast.ts = 0.0  # type: ignore[misc]


def test_the_positional_order_is_the_declaration_order():
    names = [f.name for f in attrs.fields(Quote)]
    q = new_quote(*range(len(names)))
    assert [getattr(q, n) for n in names] == list(range(len(names)))


@attrs.frozen(kw_only=True)
class _Validated:
    x: int = attrs.field(validator=attrs.validators.instance_of(int))


@attrs.frozen(kw_only=True)
class _Converted:
    x: int = attrs.field(converter=int)


@attrs.frozen(kw_only=True)
class _PostInit:
    x: int

    def __attrs_post_init__(self) -> None:
        pass


@attrs.frozen(kw_only=True, slots=False)
class _NoSlots:
    x: int


@pytest.mark.parametrize("cls", [_Validated, _Converted, _PostInit, _NoSlots])
def test_refuses_classes_whose_init_does_more_than_assign(cls):
    with pytest.raises(TypeError, match="only assigns"):
        fast_builder(cls)
