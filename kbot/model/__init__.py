"""kbot's model layer: pure functions and small state classes, no I/O and no clock reads.

- ``prob``: settlement-aware probabilities (``prob_yes``, ``prob_yes_ladder``, ``prob_between``)
- ``index``: the spot index (median of fresh sources, BRTI preferred) and its trailing average
- ``vol``: EWMA volatility on a time grid with guardrails/fallbacks; realized volatility
- ``implied``: implied volatility per event from market mids
- ``settlement``: the observed part of a market's settlement window
- ``ev``: fee-aware EV per contract (taker both sides, maker)
- ``pricing``: one market's ``Edge`` and the throttle deciding when it is sent
- ``gates``, ``sizing``, ``risk``, ``decide``: one candidate -> exactly one ``Decision``
- ``killswitch``: the operator kill switch file
- ``config``: the configuration classes
"""

from kbot.model.prob import YEAR_S, prob_between, prob_yes, prob_yes_ladder, prob_yes_reason

__all__ = ["YEAR_S", "prob_between", "prob_yes", "prob_yes_ladder", "prob_yes_reason"]
