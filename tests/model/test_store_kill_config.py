"""State store (atomic JSON files), the operator kill switch file, configuration classes."""

from __future__ import annotations

import os
from decimal import Decimal as D

import pytest

from kbot.fees import FeeRounding
from kbot.model import killswitch
from kbot.model.config import (
    GateConfig,
    IndexConfig,
    PricerConfig,
    RiskConfig,
    SizingConfig,
    VolConfig,
    config_digest,
)
from kbot.statestore import JsonFileStateStore, MemoryStateStore, StateStoreError


def test_json_store_round_trip_and_missing(tmp_path):
    store = JsonFileStateStore(tmp_path / "state")
    assert store.load("vol") is None
    store.save("vol", {"a": 1, "b": [1.5, None]})
    assert store.load("vol") == {"a": 1, "b": [1.5, None]}
    store.save("vol", {"a": 2})
    assert store.load("vol") == {"a": 2}
    assert sorted(os.listdir(tmp_path / "state")) == ["vol.json"]  # no temp files left


def test_json_store_rejects_corrupt_and_bad_keys(tmp_path):
    store = JsonFileStateStore(tmp_path)
    (tmp_path / "risk.json").write_text("{not json")
    with pytest.raises(StateStoreError):
        store.load("risk")
    (tmp_path / "risk.json").write_text("[1, 2]")
    with pytest.raises(StateStoreError):
        store.load("risk")
    for key in ("../x", "a/b", "", ".."):
        with pytest.raises(ValueError):
            store.save(key, {})
    with pytest.raises(ValueError):
        store.save("x", {"nan": float("nan")})
    assert not (tmp_path / "x.json").exists()


def test_failed_write_keeps_the_old_content(tmp_path, monkeypatch):
    store = JsonFileStateStore(tmp_path)
    store.save("k", {"v": 1})

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        store.save("k", {"v": 2})
    monkeypatch.undo()
    assert store.load("k") == {"v": 1}
    assert os.listdir(tmp_path) == ["k.json"]


def test_memory_store():
    m = MemoryStateStore()
    m.save("a", {"x": 1})
    assert m.load("a") == {"x": 1} and m.saves == 1


def test_kill_file(tmp_path):
    path = tmp_path / "data" / "KILL"
    assert killswitch.read_kill(path) is None
    killswitch.request_kill(path, "maintenance", ts=1.0, by="ops")
    assert killswitch.read_kill(path) == "maintenance"
    path.write_text("garbage")
    assert killswitch.read_kill(path) == "kill file present"  # fail safe
    assert killswitch.clear_kill(path) and not killswitch.clear_kill(path)
    assert killswitch.read_kill(path) is None
    assert not killswitch.consume_reset(path)
    killswitch.request_reset(path, ts=2.0)
    assert killswitch.consume_reset(path) and not killswitch.consume_reset(path)


def test_configs_from_toml_values():
    g = GateConfig(max_spread="0.05", min_price=0.1, max_price="0.9", min_ev=0.03)
    assert g.max_spread == D("0.05") and g.min_price == D("0.1")
    s = SizingConfig(max_contracts_per_order=50, max_total_exposure="250.5")
    assert s.max_contracts_per_order == D(50) and s.max_total_exposure == D("250.5")
    p = PricerConfig(fee_rounding="cent", tradable_statuses=["active"])
    assert p.fee_rounding is FeeRounding.CENT and p.tradable_statuses == ("active",)
    v = VolConfig(rv_horizons_s=[600, 7200])
    assert v.rv_horizons_s == (600.0, 7200.0)
    assert RiskConfig(max_daily_loss="25").max_daily_loss == D(25)
    assert IndexConfig(min_sources=1).min_sources == 1


@pytest.mark.parametrize(
    "make",
    [
        lambda: GateConfig(min_price="0.9", max_price="0.1"),
        lambda: GateConfig(max_spread="1.5"),
        lambda: GateConfig(liquidity_fraction=0),
        lambda: GateConfig(min_time_to_close_s=100, max_time_to_close_s=50),
        lambda: VolConfig(sigma_min=2, sigma_max=1),
        lambda: VolConfig(sigma_default=10),
        lambda: VolConfig(rv_horizons_s=[1]),
        lambda: IndexConfig(max_age_s=0),
        lambda: IndexConfig(max_age_s=float("nan")),
        lambda: PricerConfig(fee_rounding="weird"),
        lambda: SizingConfig(kelly_fraction=1.5),
        lambda: SizingConfig(max_total_exposure=True),
        lambda: RiskConfig(max_daily_loss="-1"),
    ],
)
def test_invalid_config_fails_fast(make):
    with pytest.raises((ValueError, TypeError)):
        make()


def test_config_digest_is_stable_and_sensitive():
    assert config_digest(GateConfig(), SizingConfig()) == config_digest(GateConfig(), SizingConfig())
    assert config_digest(GateConfig()) != config_digest(GateConfig(min_ev=0.03))
