"""The simulated market makers' own fair value: a small closed-form GBM probability (pure).

Deliberately simple (the sim's participants are not kbot's model): the settlement average
over the last 60 s is treated as one lognormal price with an effective horizon. Before the
averaging window the average's variance is that of the spot ``tau - 40`` seconds ahead
(``tau - 60`` to the window plus a third of the window); inside the window the known ticks
are averaged in and only the remaining part is uncertain.
"""

from __future__ import annotations

import math

from scipy.special import ndtr

YEAR_S = 365.25 * 86400.0


def _p_above(spot: float, strike: float, sd: float) -> float:
    if sd <= 0.0:
        return 1.0 if spot > strike else 0.0
    return float(ndtr((math.log(spot / strike) - 0.5 * sd * sd) / sd))


def prob_yes(
    strike_type: str,
    floor: float | None,
    cap: float | None,
    spot: float,
    sigma: float,
    tau_s: float,
    known_sum: float = 0.0,
    known_n: int = 0,
) -> float:
    """P(YES) for ``greater``/``greater_or_equal`` (floor) or ``between`` (floor..cap).
    ``known_sum``/``known_n``: index ticks of the settlement window already published."""
    if tau_s >= 60.0:
        eff_spot, eff_tau = spot, tau_s - 40.0
    else:
        rest = max(0, 60 - known_n)
        eff_spot = (known_sum + spot * rest) / 60.0
        eff_tau = (rest / 60.0) ** 2 * rest / 3.0
    sd = sigma * math.sqrt(max(eff_tau, 0.0) / YEAR_S)
    if floor is None:
        return 0.5
    p_floor = _p_above(eff_spot, floor, sd)
    if strike_type == "between" and cap is not None:
        return max(0.0, p_floor - _p_above(eff_spot, cap, sd))
    return p_floor
