import math
from decimal import Decimal as D

import pytest

from kbot.scoring import brier, log_loss, market_prob, outcome_of, score, take_pnl


def test_worked_example():
    r = score(0.7, 1, D("0.60"), D("0.64"), D("0.40"))
    assert r.brier == pytest.approx(0.09)
    assert r.log_loss == pytest.approx(-math.log(0.7))
    assert r.market_prob == pytest.approx(0.62)
    assert r.market_brier == pytest.approx(0.38**2)
    # YES at 0.64: wins 0.36 minus fee ceil4(0.07*0.64*0.36)=0.0162
    assert r.pnl_yes == pytest.approx(0.36 - 0.0162)
    # NO at 0.40 loses 0.40 and pays ceil4(0.07*0.4*0.6)=0.0168
    assert r.pnl_no == pytest.approx(-0.40 - 0.0168)


def test_log_loss_is_finite_for_confident_misses():
    assert math.isfinite(log_loss(0.0, 1)) and math.isfinite(log_loss(1.0, 0))
    assert log_loss(0.5, 0) == pytest.approx(math.log(2))
    assert brier(1.0, 0) == 1.0


def test_missing_sides():
    # the market's probability: no bid for YES is worth 0, no ask (no NO bid) is worth 1
    assert market_prob(None, D("0.5")) == 0.0 and market_prob(D("0"), D("0.20")) == 0.0
    assert market_prob(D("0.7"), None) == 1.0 and market_prob(D("0.7"), D("1")) == 1.0
    assert market_prob(None, None) is None and market_prob(D("0.40"), D("0.42")) == pytest.approx(0.41)
    assert take_pnl(None, True) is None and take_pnl(D("0"), True) is None
    r = score(0.4, 0, None, None, None)
    assert r.market_brier is None and r.pnl_yes is None


def test_the_raw_model_is_scored_too():
    r = score(0.6, 1, D("0.40"), D("0.42"), D("0.60"), prob_model=0.9)
    assert r.brier == pytest.approx(0.16) and r.model_brier == pytest.approx(0.01)
    assert r.market_brier == pytest.approx(0.59**2) and r.model_log_loss == pytest.approx(-math.log(0.9))
    assert score(0.6, 1, None, None, None).model_brier is None
    with pytest.raises(ValueError):
        score(0.5, 1, None, None, None, prob_model=1.5)


def test_validation_and_outcomes():
    with pytest.raises(ValueError):
        score(1.2, 1, None, None, None)
    with pytest.raises(ValueError):
        score(0.5, 2, None, None, None)
    assert outcome_of("yes") == 1 and outcome_of("no") == 0 and outcome_of("void") is None and outcome_of(None) is None
