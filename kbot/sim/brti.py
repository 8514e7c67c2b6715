"""The BRTI-like index as Kalshi streams it on ``cfbenchmarks_value`` (pure).

Per whole second ``s`` (reference §5.5):

- ``avg_60s_data``: trailing average over ``[s - 60 s, s)``, *prior* ticks only
  (``window_size`` 60 once the path has a minute of history);
- ``last_60s_windowed_average_15min``: only in the final minute before a quarter hour
  ``Q`` (:00/:15/:30/:45): ticks in ``(Q - 60 s, s]``, the start-boundary tick excluded and
  the close tick included, so ``window_size`` counts :01 -> 1 ... close -> 60. At the close
  tick it is exactly the settlement average of markets closing at ``Q``.

Averages are exact means of the cent values, formatted with 8 decimals like Kalshi's.
``window_end_ts_exclusive`` is the tick's time, as in Kalshi's example payload.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from kbot.sim.events import IndexTick
from kbot.sim.pricepath import IndexPath


def avg8(cents: Iterable[int]) -> str:
    """Mean of integer cents as a dollar string with 8 decimals."""
    values = [int(x) for x in cents]
    mean = Decimal(sum(values)) / Decimal(len(values) * 100)
    return str(mean.quantize(Decimal("0.00000001")))


def index_tick(path: IndexPath, s: int, received_at_ms: int) -> IndexTick:
    cents = path.cents(s)
    prior = path.cents_range(s - 60, s)
    avg60 = avg8(prior) if len(prior) else avg8([cents])  # no prior tick: the current value
    q = -(-s // 900) * 900  # the next quarter boundary (s itself when on one)
    avg15 = None
    if q - 59 <= s <= q:
        window = path.cents_range(q - 59, s + 1)
        avg15 = (avg8(window), len(window), (q - 60) * 1000, s * 1000)
    return IndexTick(
        second=s,
        cents=cents,
        received_at_ms=received_at_ms,
        avg_60s=(avg60, len(prior), (s - 60) * 1000, s * 1000),
        avg_15min=avg15,
    )
