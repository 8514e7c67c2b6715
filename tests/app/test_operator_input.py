"""Operator input (issue 12): ``--venue demo|prod`` checks the configuration and the key before
it creates or migrates anything; a key that cannot be verified (no answer) is said loudly and
retried visibly (health, alerts, status) instead of silently continuing; a rejected key stops
the run; ``kbot config show`` shows the key id in effect; messages name the real settings; all
unknown settings are listed at once."""

from __future__ import annotations

import json
import os
import sqlite3
from decimal import Decimal

import attrs
import pytest

from kbot.actorkit import ActorStats, Collect
from kbot.app import run_kbot
from kbot.clock import ScaledClock
from kbot.config import AppConfig, kalshi_environment, load_config
from kbot.confload import ConfigError
from kbot.health import HealthConfig
from kbot.messages import Alert, VenueBalance
from kbot.preflight import KeyCheck, keep_verifying, verify_key
from kbot.sim import SimConfig, running_sim
from kbot.venues.config import KalshiConfig, KalshiRestConfig
from kbot.venues.kalshi import auth
from kbot.venues.kalshi.errors import KalshiAuthError, KalshiRetriesExhausted
from storage.config import StorageConfig


@pytest.fixture(scope="module")
def key_file(tmp_path_factory):
    d = tmp_path_factory.mktemp("key")
    p = d / "k.pem"
    p.write_bytes(auth.private_pem(auth.generate_key_pair()))
    os.chmod(p, 0o600)
    return p


# ----------------------------------------------------------------------------- nothing touched on failure


async def test_demo_without_a_key_touches_nothing(tmp_path):
    """(``kbot run`` as a subprocess: tests/kbot/test_commands.py)"""
    cfg = config(tmp_path, venue="demo", minutes=0.1)
    assert await run_kbot(cfg, environ={}) == 2
    assert not (tmp_path / "data").exists()  # before: data/kbot.sqlite was created and migrated first


async def test_prod_with_an_unreadable_key_touches_nothing(tmp_path):
    env = {"KALSHI_API_KEY_ID": "abc", "KALSHI_PRIVATE_KEY_PATH": str(tmp_path / "missing.pem")}
    cfg = load_like(config(tmp_path, venue="prod", minutes=0.1), env)
    assert await run_kbot(cfg, environ=env) == 2
    assert not (tmp_path / "data").exists()


def config(tmp_path, **kw) -> AppConfig:
    return AppConfig(
        data_dir=str(tmp_path / "data"), log_dir=str(tmp_path / "logs"),
        storage=StorageConfig(url=f"sqlite:///{tmp_path / 'data' / 'kbot.sqlite'}"), **kw,
    )  # fmt: skip


async def test_a_key_the_venue_rejects_touches_nothing(tmp_path, key_file):
    """A signed call answered 401 (a key the venue does not know): exit 2 before the database."""
    async with running_sim(SimConfig(speed=10.0, seed=1, data_dir=str(tmp_path / "sim"))) as ep:
        env = {"KALSHI_REST_URL": ep.rest_url, "KALSHI_WS_URL": ep.ws_url, "KALSHI_API_KEY_ID": "not-a-key",
               "KALSHI_PRIVATE_KEY_PATH": str(key_file)}
        cfg = config(tmp_path, venue="demo", minutes=0.1)
        code = await run_kbot(load_like(cfg, env), environ=env)
    assert code == 2
    assert not (tmp_path / "data").exists()


def load_like(cfg: AppConfig, env: dict[str, str]) -> AppConfig:
    """As ``load_config`` folds the environment in."""
    return attrs.evolve(cfg, kalshi=attrs.evolve(cfg.kalshi, venue=cfg.venue, **kalshi_environment(env)))


# ----------------------------------------------------------------------------- unverified: loud and retried


async def test_no_answer_runs_on_and_keeps_retrying_visibly(tmp_path, key_file):
    """A readable key and no network (nothing listens at the REST URL): kbot starts, and the
    database shows the key was never verified (health's preflight row, a critical alert)."""
    env = {"KALSHI_REST_URL": "http://127.0.0.1:9/trade-api/v2", "KALSHI_WS_URL": "ws://127.0.0.1:9/ws",
           "KALSHI_API_KEY_ID": "abc", "KALSHI_PRIVATE_KEY_PATH": str(key_file)}
    cfg = config(tmp_path, venue="prod", minutes=0.05, health=HealthConfig(interval_s=0.5),
                 kalshi=KalshiConfig(rest=KalshiRestConfig(max_retries_5xx=0)))
    cfg = load_like(cfg, env)
    cfg = attrs.evolve(cfg, spot=attrs.evolve(cfg.spot, coinbase=attrs.evolve(cfg.spot.coinbase, enabled=False),
                                              kraken=attrs.evolve(cfg.spot.kraken, enabled=False)))
    code = await run_kbot(cfg, environ=env)
    assert code == 0
    db = sqlite3.connect(tmp_path / "data" / "kbot.sqlite")
    states = [s for (s,) in db.execute("select state from health where actor = 'preflight'")]
    assert states and all("NOT verified" in s for s in states), states
    alerts = db.execute("select kind, severity, message from alerts where kind = 'key_unverified'").fetchall()
    assert alerts and alerts[0][1] == "critical" and "could NOT be verified" in alerts[0][2]


class FakeRest:
    def __init__(self, answers: list[object]) -> None:
        self.answers = answers
        self.calls = 0

    async def get_balance(self) -> VenueBalance:
        self.calls += 1
        a = self.answers.pop(0)
        if isinstance(a, Exception):
            raise a
        return VenueBalance(ts=0.0, balance=Decimal(1))


async def test_keep_verifying_until_the_venue_answers(autojump_clock):
    rest = FakeRest([KalshiRetriesExhausted("/portfolio/balance", 1, "connect"), None])
    first = await verify_key(FakeRest([KalshiRetriesExhausted("/portfolio/balance", 1, "no route")]))
    assert first.status == "unverified" and "no route" in first.detail
    stats, alerts = ActorStats("preflight"), Collect()
    rejected: list[KeyCheck] = []
    await keep_verifying(rest, first, stats=stats, alerts=alerts, clock=ScaledClock(epoch0=0.0),
                         on_rejected=rejected.append, retry_s=(1.0,))
    assert rest.calls == 2 and rejected == [] and stats.state == "key verified (after 3 attempts)"
    kinds = [(a.kind, a.severity) for a in alerts.of(Alert)]
    assert kinds == [("key_unverified", "critical"), ("resolved", "info")]
    assert stats.errors == 2


async def test_a_later_rejection_stops_the_run(autojump_clock):
    rest = FakeRest([KalshiAuthError(401, "unauthorized", "bad key")])
    rejected: list[KeyCheck] = []
    await keep_verifying(rest, KeyCheck(status="unverified", detail="x"), stats=ActorStats("p"), alerts=Collect(),
                         clock=ScaledClock(epoch0=0.0), on_rejected=rejected.append, retry_s=(1.0,))
    assert [c.status for c in rejected] == ["rejected"] and "rejected the API key" in rejected[0].message


# ----------------------------------------------------------------------------- configuration shown and checked


def test_config_show_shows_the_key_id_in_effect(tmp_path, monkeypatch, capsys):
    from kbot import cli
    from kbot.commands import config as config_command

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KALSHI_API_KEY_ID", "key-123")

    def show(*argv: str) -> str:
        assert config_command.main(cli.build_parser().parse_args(["config", "show", *argv])) == 0
        return capsys.readouterr().out

    assert json.loads(show("--format", "json"))["kalshi"]["key_id"] == "key-123"  # before: (unset)
    out = show()
    assert 'key_id = "key-123"' in out and "kalshi.key_id from KALSHI_API_KEY_ID" in out
    cfg = load_config(environ={"KALSHI_API_KEY_ID": "k", "KALSHI_PRIVATE_KEY_PATH": "/p.pem"}, dotenv=None)
    assert (cfg.kalshi.key_id, cfg.kalshi.private_key_path) == ("k", "/p.pem")


def test_every_unknown_setting_is_listed_at_once(tmp_path):
    toml = tmp_path / "kbot.toml"
    toml.write_text('venu = "demo"\n[gates]\nmin_evv = 0.03\n[kalshi.rest]\ntimeout = 3\n[kalshi]\nkey = "x"\n')
    with pytest.raises(ConfigError) as info:
        load_config(toml, environ={"KBOT_SIZING__KELY": "0.1"}, dotenv=None)
    msg = str(info.value)
    for key in ("venu:", "gates.min_evv:", "kalshi.rest.timeout:", "kalshi.key:", "sizing.kely:"):
        assert key in msg, (key, msg)
    assert msg.startswith("5 unknown settings") and "did you mean min_ev" in msg
