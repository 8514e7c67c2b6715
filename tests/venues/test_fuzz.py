"""Fuzzing every public wire parse entry point (issue 12, "parsers that cannot be crashed").

- A bounded seeded-mutator run over all entry points (a few seconds): no exception other than the
  documented ``WireError`` escapes (none at all from the Kalshi WS session and the REST error
  reader), and everything returned is a valid domain message (``fuzzing.invalid``).
- Hypothesis over the shared field readers with arbitrary JSON values.
- The long run is behind ``--soak``. The probe with the issue's figures:
  ``python -m tests.venues.fuzz_probe --frames 110000``.
"""

from __future__ import annotations

import math
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from loguru import logger

from kbot.venues import wire
from tests.venues import fuzzing

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
HUGE = st.sampled_from([10**400, -(10**400), 2**63, 1e308, -1e308, 5e-324, float("inf"), float("nan"),
                        "1E+999999999", "1E-999999999", "NaN", "-Infinity", "9" * 100, ""])


@pytest.fixture(autouse=True)
def _quiet():
    # rejected frames are logged once per kind by BadInputLog: expected here, not worth the noise
    logger.disable("kbot")
    yield
    logger.enable("kbot")


def _report(rep: fuzzing.Report) -> str:
    lines = [f"{n} x {k}" for k, n in (rep.escaped + rep.garbage).most_common()]
    lines += [f"  {k}: {s}" for k, s in sorted(rep.samples.items())]
    return "\n".join(lines)


def test_every_entry_point_holds_under_mutation():
    rep = fuzzing.run(frames=8_000, seed=20261203)
    assert rep.frames == 8_000 and rep.ok > 1_500 and sum(rep.rejected.values()) > 3_000  # both outcomes exercised
    assert not rep.escaped and not rep.garbage, _report(rep)


def test_the_seeds_themselves_parse_to_valid_messages():
    """The fuzzer starts from payloads every parser accepts (else mutations prove little)."""
    for e in fuzzing.entry_points():
        for text in e.seeds:
            out = e.run(text)
            assert fuzzing.invalid(out, e.live) is None, (e.name, text)
            if e.name == "kalshi_ws.session" and '"type": "ticker"' in text:
                assert out, "a ticker frame for a watched market yields a Quote"


@pytest.mark.soak
@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_every_entry_point_holds_under_mutation_soak(seed):
    rep = fuzzing.run(frames=200_000, seed=seed)
    assert not rep.escaped and not rep.garbage, _report(rep)


# ----------------------------------------------------------------------------- the field readers


def _holds(fn, *args) -> object:
    try:
        return fn(*args)
    except wire.WireError:
        return None


@settings(max_examples=150, deadline=None)
@given(v=JSON | HUGE)
def test_numeric_readers_return_sane_values_or_wire_errors(v):
    d = _holds(wire.to_decimal, v, "k")
    if d is not None:
        assert isinstance(d, Decimal) and d.is_finite() and (not d or -15 <= d.adjusted() <= 15)
        _ = (wire.ONE - d, d * 100, d.quantize(Decimal("0.0001")))  # the arithmetic later stages do
    f = _holds(wire.to_float, v, "k")
    if f is not None:
        assert isinstance(f, float) and math.isfinite(f)
    for reader in (wire.ms_ts, wire.s_ts, wire.any_ts):
        ts = _holds(reader, v, "k")
        if ts is not None:
            assert wire.EPOCH_MIN <= ts <= wire.EPOCH_MAX
    p = _holds(wire.spot_price, v, "k")
    if p is not None:
        assert wire.SPOT_MIN <= p <= wire.SPOT_MAX
    c = _holds(wire.cents, v, "k")
    if c is not None:
        assert c.is_finite()


@settings(max_examples=100, deadline=None)
@given(d=st.dictionaries(st.sampled_from(["a", "floor_strike", "result", "t"]), JSON | HUGE, max_size=4))
def test_field_readers_on_any_object(d):
    for reader in (wire.req_str, wire.opt_str, wire.opt_int, wire.opt_dec, wire.opt_price, wire.opt_count, wire.opt_float,
                   wire.opt_strike, wire.opt_result, wire.opt_iso_ts, wire.opt_ms_ts, wire.opt_s_ts, wire.opt_list):
        for key in d:
            v = _holds(reader, d, key)
            if isinstance(v, str):
                v.encode("utf-8")  # storable
            if isinstance(v, int) and not isinstance(v, bool):
                assert -(2**53) < v < 2**53
            if reader is wire.opt_strike and v is not None:
                assert v > 0
            if reader is wire.opt_result and v is not None:
                assert v in wire.RESULTS


@settings(max_examples=100, deadline=None)
@given(text=st.text(max_size=200) | st.builds(lambda n, s: "[" * n + s, st.integers(0, 200_000), st.text(max_size=5)))
def test_loads_never_raises_anything_but_wire_error(text):
    _holds(wire.loads, text)
