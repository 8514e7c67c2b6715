"""Evaluation of kbot's model and decisions on captured real markets (``kbot evaluate``).

- ``captures``: reading a folder of KXBTC hourly captures (the layout of
  ``../shared/data/kalshi_headless_kxbtc_hourly``) into time-ordered captures.
- ``walk``: the walk-forward engine: every captured bracket priced and decided with the same
  pure functions and default configuration the pricer and decision actors use, the evidence
  and the calibrated blend learned only from what settled before each capture.
- ``summary``: Brier per event and the would-be trading per horizon bucket.
"""
