"""Fault injection for reliability tests: the spec syntax, its config and the runtime injector.

All faults are off by default. Each is set from the CLI (``kbot sim --faults SPEC``), from
``SimConfig(faults=...)`` (a spec string or a ``FaultConfig``), or at run time by a test
through ``FaultInjector.inject`` (fire at the next opportunity) and ``FaultInjector.set``.

Spec syntax: faults separated by ``,``; each ``KIND`` followed by ``:key=value`` options::

    ws_drop:p=0.001:target=kalshi,http_503:p=0.02:burst=5,slow:p=0.1:delay=1.5,late_strike:p=1:delay=45

Options: ``p`` probability per opportunity (0..1), ``burst`` consecutive occurrences once
fired, ``for`` duration in seconds, ``delay`` seconds, ``target`` which surface
(``kalshi``, ``coinbase``, ``binance``, ``kraken`` or ``all``).

| kind | opportunity (what ``p`` is per) | effect | options |
| --- | --- | --- | --- |
| ``ws_drop`` | outgoing WS message | the connection is closed abruptly (code 1011) | target |
| ``ws_silent`` | outgoing WS message | nothing more is sent for ``for`` real seconds (0: never), the socket stays open | for, target |
| ``seq_skip`` | outgoing Kalshi message with ``seq`` | that subscription's ``seq`` jumps by one (a gap) | |
| ``bad_json`` | outgoing WS message | a truncated, unparseable JSON text is sent instead | target |
| ``wrong_type`` | outgoing WS message | one field of it is sent with the wrong JSON type | target |
| ``http_500`` / ``http_503`` | REST request | ``burst`` consecutive requests get that status | burst |
| ``http_429`` | REST request | a storm of ``burst`` 429 ``{"error":"too many requests"}`` | burst |
| ``lost_reply`` | REST write (POST/DELETE) | the request is applied, then answered 503: the answer is lost on the way back | burst |
| ``slow`` | REST request | the response is delayed ``delay`` real seconds | delay |
| ``early_close`` | market listing | the market closes early at a random time in its window (``close_date_updated``) | |
| ``late_strike`` | KXBTC15M window start | ``floor_strike`` is published ``delay`` sim seconds late, a provisional value first | delay |
| ``feed_freeze`` | spot-feed tick | that exchange keeps sending a stale price for ``for`` sim seconds | for, target |

Transport durations (``ws_silent`` ``for``, ``slow`` ``delay``) are real seconds; market and
feed durations (``late_strike`` ``delay``, ``feed_freeze`` ``for``) are seconds of the sim clock.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping
from typing import Any

import attrs

KINDS = (
    "ws_drop",
    "ws_silent",
    "seq_skip",
    "bad_json",
    "wrong_type",
    "http_500",
    "http_503",
    "http_429",
    "lost_reply",
    "slow",
    "early_close",
    "late_strike",
    "feed_freeze",
)
TARGETS = ("all", "kalshi", "coinbase", "binance", "kraken")


class FaultSpecError(ValueError):
    """The ``--faults`` spec is malformed; the message says where."""


def _prob(x: float) -> float:
    x = float(x)
    if not 0.0 <= x <= 1.0:
        raise FaultSpecError(f"fault probability p must be within 0..1, got {x}")
    return x


def _nonneg(x: float) -> float:
    x = float(x)
    if x < 0:
        raise FaultSpecError(f"fault durations must be >= 0, got {x}")
    return x


def _burst(x: int) -> int:
    x = int(x)
    if x < 1:
        raise FaultSpecError(f"fault burst must be >= 1, got {x}")
    return x


def _target(x: str) -> str:
    if x not in TARGETS:
        raise FaultSpecError(f"fault target must be one of {', '.join(TARGETS)}, got {x!r}")
    return x


@attrs.frozen(slots=True)
class Fault:
    p: float = attrs.field(default=0.0, converter=_prob)  # probability per opportunity
    burst: int = attrs.field(default=1, converter=_burst)  # consecutive occurrences (http_*)
    duration_s: float = attrs.field(default=0.0, converter=_nonneg)  # "for"
    delay_s: float = attrs.field(default=0.0, converter=_nonneg)  # "delay"
    target: str = attrs.field(default="all", converter=_target)

    def hits(self, target: str) -> bool:
        return self.target == "all" or self.target == target


_DEFAULTS: dict[str, dict[str, Any]] = {
    "ws_silent": {"duration_s": 0.0},
    "slow": {"delay_s": 2.0},
    "late_strike": {"delay_s": 45.0},
    "feed_freeze": {"duration_s": 60.0},
    "http_500": {"burst": 3},
    "http_503": {"burst": 3},
    "http_429": {"burst": 20},
}

_KEYS = {"p": "p", "burst": "burst", "for": "duration_s", "duration": "duration_s", "delay": "delay_s", "target": "target"}


def default_fault(kind: str, **overrides: Any) -> Fault:
    if kind not in KINDS:
        raise FaultSpecError(f"unknown fault {kind!r}; known: {', '.join(KINDS)}")
    return Fault(**{**_DEFAULTS.get(kind, {}), **overrides})


def parse_spec(spec: str) -> dict[str, Fault]:
    """``"ws_drop:p=0.01,slow:p=0.1:delay=2"`` -> ``{kind: Fault}``."""
    out: dict[str, Fault] = {}
    for part in (s.strip() for s in spec.replace(";", ",").split(",")):
        if not part:
            continue
        kind, *opts = part.split(":")
        kind = kind.strip()
        kwargs: dict[str, Any] = {}
        for opt in opts:
            key, sep, value = opt.partition("=")
            key = key.strip()
            if not sep or key not in _KEYS:
                raise FaultSpecError(
                    f"bad option {opt!r} in fault {part!r}: expected key=value with key in {', '.join(sorted(_KEYS))}"
                )
            kwargs[_KEYS[key]] = value.strip()
        try:
            out[kind] = default_fault(kind, **kwargs)
        except (TypeError, ValueError) as exc:
            raise FaultSpecError(f"bad fault {part!r}: {exc}") from exc
    return out


def _to_faults(value: object) -> dict[str, Fault]:
    if value is None:
        return {}
    if isinstance(value, str):
        return parse_spec(value)
    if isinstance(value, Mapping):
        out: dict[str, Fault] = {}
        for k, v in value.items():
            if isinstance(v, Fault):
                default_fault(k)  # validates the kind
                out[k] = v
            elif isinstance(v, Mapping):
                out[k] = default_fault(k, **{_KEYS.get(str(kk), str(kk)): vv for kk, vv in v.items()})
            else:
                raise FaultSpecError(f"fault {k!r}: expected a table of options")
        return out
    raise FaultSpecError(f"faults must be a spec string or a table, got {type(value).__name__}")


@attrs.frozen(slots=True)
class FaultConfig:
    """Which faults are armed (``{kind: Fault}``), from a spec string or a TOML table."""

    faults: dict[str, Fault] = attrs.field(factory=dict, converter=_to_faults)

    @classmethod
    def parse(cls, spec: str) -> FaultConfig:
        return cls(faults=parse_spec(spec))


class FaultInjector:
    """Decides, at each opportunity, whether a fault fires. Seeded, so a run is reproducible
    for a given sequence of opportunities; ``counts`` tells tests what fired."""

    def __init__(self, config: FaultConfig | None = None, seed: int = 0) -> None:
        self._faults: dict[str, Fault] = dict((config or FaultConfig()).faults)
        self._rng = random.Random(seed)
        self._oneshot: dict[str, list[tuple[str, Fault]]] = {}
        self._burst_left: Counter[str] = Counter()
        self.counts: Counter[str] = Counter()

    def set(self, kind: str, **params: Any) -> None:
        """Arm ``kind`` with these options (``p``, ``burst``, ``duration_s``, ``delay_s``, ``target``)."""
        self._faults[kind] = default_fault(kind, **params)

    def clear(self, kind: str | None = None) -> None:
        if kind is None:
            self._faults.clear()
            self._oneshot.clear()
            self._burst_left.clear()
        else:
            self._faults.pop(kind, None)
            self._oneshot.pop(kind, None)
            self._burst_left.pop(kind, None)

    def inject(self, kind: str, *, target: str = "all", **params: Any) -> None:
        """Fire ``kind`` at its next opportunity on ``target`` (once; ``burst`` for http faults)."""
        self._oneshot.setdefault(kind, []).append((target, default_fault(kind, target=_target(target), **params)))

    def armed(self, kind: str) -> Fault | None:
        return self._faults.get(kind)

    @property
    def quiet(self) -> bool:
        """Nothing armed, queued or bursting: every roll would say no (a fast path for hot loops)."""
        return not self._faults and not any(self._oneshot.values()) and not any(self._burst_left.values())

    def roll(self, kind: str, target: str = "kalshi") -> Fault | None:
        """The fault's options if it fires at this opportunity on ``target``, else None."""
        if self._burst_left[kind] > 0:
            self._burst_left[kind] -= 1
            self.counts[kind] += 1
            return self._faults.get(kind) or default_fault(kind)
        shots = self._oneshot.get(kind)
        if shots:
            for i, (t, shot) in enumerate(shots):
                if t == "all" or t == target:
                    del shots[i]
                    return self._fire(kind, shot)
        standing = self._faults.get(kind)
        if standing is None or standing.p <= 0.0 or not standing.hits(target):
            return None
        if standing.p >= 1.0 or self._rng.random() < standing.p:
            return self._fire(kind, standing)
        return None

    def _fire(self, kind: str, fault: Fault) -> Fault:
        self.counts[kind] += 1
        if fault.burst > 1:
            self._burst_left[kind] += fault.burst - 1
        return fault

    def random(self) -> float:
        return self._rng.random()

    def describe(self) -> str:
        parts = []
        for kind, f in self._faults.items():
            opts = [f"p={f.p:g}"]
            if f.burst != 1:
                opts.append(f"burst={f.burst}")
            if f.duration_s:
                opts.append(f"for={f.duration_s:g}")
            if f.delay_s:
                opts.append(f"delay={f.delay_s:g}")
            if f.target != "all":
                opts.append(f"target={f.target}")
            parts.append(":".join([kind, *opts]))
        return ",".join(parts) or "none"
