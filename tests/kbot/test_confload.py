from decimal import Decimal

import attrs
import pytest

from kbot.confload import (
    ConfigError,
    build,
    deep_merge,
    digest,
    env_overrides,
    environment_with_dotenv,
    parse_dotenv,
    redact,
    to_plain,
)


@attrs.frozen
class Inner:
    min_ev: Decimal = Decimal("0.02")
    series: tuple[str, ...] = ("KXBTC", "KXBTCD")
    webhook_url: str | None = None


@attrs.frozen
class Outer:
    venue: str = "sim"
    minutes: float | None = None
    workers: int = 2
    enabled: bool = True
    inner: Inner = attrs.field(factory=Inner)


def test_build_converts_and_defaults():
    c = build(Outer, {"minutes": "2", "workers": 3.0, "enabled": "no", "inner": {"min_ev": 0.05, "series": "KXBTC15M,KXBTC"}})
    assert c.minutes == 2.0 and c.workers == 3 and c.enabled is False
    assert c.inner.min_ev == Decimal("0.05") and c.inner.series == ("KXBTC15M", "KXBTC")
    assert build(Outer, {}) == Outer()


@pytest.mark.parametrize(
    "data,msg",
    [
        ({"inner": {"min_evv": 1}}, "inner.min_evv: unknown setting (did you mean min_ev?)"),
        ({"inner": {"min_ev": "abc"}}, "inner.min_ev: expected a decimal number"),
        ({"workers": 2.5}, "workers: expected an integer"),
        ({"enabled": "maybe"}, "enabled: expected true or false"),
        ({"inner": 3}, "inner: expected a table"),
    ],
)
def test_errors_name_the_key(data, msg):
    with pytest.raises(ConfigError) as info:
        build(Outer, data)
    assert msg in str(info.value)


def test_env_dotenv_and_precedence(tmp_path):
    env = {"KBOT_VENUE": "demo", "KBOT_INNER__MIN_EV": "0.03", "OTHER": "x"}
    assert env_overrides(env) == {"venue": "demo", "inner": {"min_ev": "0.03"}}
    p = tmp_path / ".env"
    p.write_text("# comment\nexport KBOT_WORKERS=7\nKBOT_VENUE='prod'\nKALSHI_API_KEY_ID=abc # trailing\n")
    assert parse_dotenv(p.read_text()) == {"KBOT_WORKERS": "7", "KBOT_VENUE": "prod", "KALSHI_API_KEY_ID": "abc"}
    merged_env = environment_with_dotenv(p, env)
    assert merged_env["KBOT_VENUE"] == "demo"  # real environment wins over .env
    assert merged_env["KBOT_WORKERS"] == "7"
    data = deep_merge({"venue": "sim", "inner": {"min_ev": "0.01", "series": ["KXBTC"]}}, env_overrides(merged_env))
    data = deep_merge(data, {"workers": 9})  # CLI flags last
    c = build(Outer, data)
    assert (c.venue, c.workers, c.inner.min_ev, c.inner.series) == ("demo", 9, Decimal("0.03"), ("KXBTC",))


def test_redaction_and_digest():
    plain = to_plain(Outer(inner=Inner(webhook_url="https://hooks.example/secret")))
    red = redact(plain)
    assert red["inner"]["webhook_url"] == "<redacted>" and red["inner"]["min_ev"] == "0.02"
    assert redact({"key_id": "abc", "private_key_path": "/k.pem", "api_secret": "s"}) == {
        "key_id": "abc", "private_key_path": "/k.pem", "api_secret": "<redacted>"}
    assert digest(plain) == digest(to_plain(Outer(inner=Inner(webhook_url="https://other"))))
    assert digest(plain) != digest(to_plain(Outer(workers=5)))


def test_a_section_given_in_part_keeps_the_rest_of_its_own_default():
    """`kbot run --mispricing 0.1` (or KBOT_SIM__SEED, or a [sim] table without speed) ran the
    simulated venue at SimConfig's 1x instead of kbot run's default 15x."""
    from kbot.config import load_config

    def sim(**kw):
        return load_config(None, dotenv=None, **kw).sim

    assert sim(environ={}).speed == 15.0
    assert (sim(environ={}, cli={"sim": {"mispricing": 0.1}}).speed, sim(environ={}, cli={"sim": {"mispricing": 0.1}}).mispricing) == (15.0, 0.1)
    assert (sim(environ={"KBOT_SIM__SEED": "3"}).speed, sim(environ={"KBOT_SIM__SEED": "3"}).seed) == (15.0, 3)
    assert sim(environ={}, cli={"sim": {"speed": 30.0}}).speed == 30.0
