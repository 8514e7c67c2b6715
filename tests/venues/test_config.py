"""Venue configuration: endpoint defaults by venue, config and env overrides (env wins),
credentials from env/config with fail-fast messages naming the variable, TOML-shaped tables."""

from __future__ import annotations

import pytest

from kbot.venues.config import (
    DEMO_REST_URL,
    PROD_REST_URL,
    PROD_WS_URL,
    KalshiConfig,
    VenueConfig,
)
from kbot.venues.kalshi.auth import CredentialsError


def test_endpoint_defaults_and_overrides():
    assert KalshiConfig(venue="prod").endpoints({}).rest_url == PROD_REST_URL
    assert KalshiConfig(venue="prod").endpoints({}).ws_url == PROD_WS_URL
    assert KalshiConfig(venue="demo").endpoints({}).rest_url == DEMO_REST_URL
    cfg = KalshiConfig(venue="prod", rest_url="http://cfg/trade-api/v2/", ws_url="ws://cfg/trade-api/ws/v2")
    assert cfg.endpoints({}).rest_url == "http://cfg/trade-api/v2"
    env = {"KALSHI_REST_URL": "http://env/trade-api/v2", "KALSHI_WS_URL": "ws://env/trade-api/ws/v2"}
    e = cfg.endpoints(env)
    assert (e.rest_url, e.ws_url) == ("http://env/trade-api/v2", "ws://env/trade-api/ws/v2")
    with pytest.raises(ValueError, match="KALSHI_REST_URL"):
        KalshiConfig(venue="sim").endpoints({})
    with pytest.raises(ValueError):
        KalshiConfig(venue="staging")


def test_credentials_precedence_and_fail_fast(key_file, tmp_path):
    assert KalshiConfig().credentials({}, required=False) is None
    with pytest.raises(CredentialsError, match="KALSHI_API_KEY_ID"):
        KalshiConfig().credentials({}, required=True)
    with pytest.raises(CredentialsError, match="KALSHI_PRIVATE_KEY_PATH"):
        KalshiConfig().credentials({"KALSHI_API_KEY_ID": "k"}, required=False)  # half-configured fails
    with pytest.raises(CredentialsError, match="does not exist"):
        KalshiConfig().credentials({"KALSHI_API_KEY_ID": "k", "KALSHI_PRIVATE_KEY_PATH": str(tmp_path / "nope")}, required=True)
    c = KalshiConfig(key_id="from-config", private_key_path=str(key_file)).credentials({}, required=True)
    assert c.key_id == "from-config"
    c = KalshiConfig(key_id="from-config", private_key_path="/nope").credentials(
        {"KALSHI_API_KEY_ID": "from-env", "KALSHI_PRIVATE_KEY_PATH": str(key_file)}, required=True)
    assert c.key_id == "from-env" and "redacted" in repr(c)
    key_file.chmod(0o644)
    with pytest.raises(CredentialsError, match="chmod 600"):
        KalshiConfig(key_id="k", private_key_path=str(key_file)).credentials({}, required=True)
    assert KalshiConfig(key_id="k", private_key_path=str(key_file), allow_insecure_key=True).credentials({}, required=True)
    assert KalshiConfig(key_id="k", private_key_path=str(key_file)).credentials({"KBOT_ALLOW_INSECURE_KEY": "1"}, required=True)


def test_built_from_toml_tables():
    cfg = VenueConfig(
        kalshi={"venue": "demo", "rest": {"tier": "advanced", "backoff_429": {"initial_s": 1.0}},
                "ws": {"use_yes_price": False, "link": {"silence_s": 30}, "lifecycle_series": "KXBTC,KXBTCD"},
                "rest_feed": {"series": ["KXBTC15M"], "discovery_s": 15}},
        spot={"kraken": {"enabled": False}, "coinbase": {"stale_after_s": 10}},
    )
    assert cfg.kalshi.rest.tier == "advanced" and cfg.kalshi.rest.backoff_429.initial_s == 1.0
    assert cfg.kalshi.ws.link.silence_s == 30 and cfg.kalshi.ws.lifecycle_series == ("KXBTC", "KXBTCD")
    assert cfg.kalshi.rest_feed.series == ("KXBTC15M",) and cfg.kalshi.rest_feed.discovery_s == 15
    assert [f.exchange for f in cfg.spot.enabled()] == ["coinbase"] and cfg.spot.coinbase.stale_after_s == 10
    with pytest.raises(ValueError):
        VenueConfig(kalshi={"rest": {"tier": "gold"}})
    with pytest.raises(ValueError):
        VenueConfig(kalshi={"ws": {"book_depth": 0}})
