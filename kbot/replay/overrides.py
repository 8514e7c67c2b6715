"""Configuration overrides for replays and backtests (pure).

``apply(cfg, {"gates": {"min_ev": "0.04"}})`` returns ``cfg`` with those settings changed,
values converted and validated as the configuration loader does (errors name the dotted key).
``parse_set("gates.min_ev=0.02,0.04")`` reads one ``--set`` of ``kbot backtest``;
``grid(sets)`` is every combination of the values given (the configuration points).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from kbot.confload import ConfigError, _convert, _hints


def apply(obj: Any, overrides: Mapping[str, Any], prefix: str = "") -> Any:
    """``obj`` (an attrs configuration) with ``overrides`` (nested mapping) applied."""
    if not overrides:
        return obj
    hints = _hints(type(obj))
    fields = {f.name: f for f in attrs.fields(type(obj))}
    changes: dict[str, Any] = {}
    for k, v in overrides.items():
        key = f"{prefix}.{k}" if prefix else k
        if k not in fields:
            raise ConfigError(f"{key}: unknown setting")
        cur = getattr(obj, k)
        if isinstance(v, Mapping) and attrs.has(type(cur)):
            changes[k] = apply(cur, v, key)
        elif fields[k].converter is not None:
            changes[k] = v
        else:
            changes[k] = _convert(v, hints[k], key)
    try:
        return attrs.evolve(obj, **changes)
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{prefix or type(obj).__name__}: {exc}") from None


def nested(dotted: Mapping[str, Any]) -> dict[str, Any]:
    """``{"a.b": 1}`` -> ``{"a": {"b": 1}}``."""
    out: dict[str, Any] = {}
    for path, v in dotted.items():
        d = out
        parts = path.split(".")
        for p in parts[:-1]:
            d = d.setdefault(p, {})
        d[parts[-1]] = v
    return out


def parse_set(text: str) -> tuple[str, list[str]]:
    """``"gates.min_ev=0.02,0.04"`` -> ``("gates.min_ev", ["0.02", "0.04"])``."""
    key, sep, values = text.partition("=")
    key = key.strip()
    vals = [v.strip() for v in values.split(",") if v.strip()]
    if not sep or not key or not vals:
        raise ConfigError(f"--set {text!r}: expected KEY=V1[,V2...] (e.g. gates.min_ev=0.02,0.04)")
    return key, vals


def grid(sets: Sequence[tuple[str, list[str]]]) -> list[dict[str, str]]:
    """Every combination of the ``--set`` values: one dotted-key dict per configuration point
    (one empty point without sets)."""
    keys = [k for k, _ in sets]
    if len(set(keys)) != len(keys):
        raise ConfigError("--set: a key is given twice")
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*(v for _, v in sets))]
