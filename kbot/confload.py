"""Typed configuration from plain data: TOML file, environment, ``.env``, CLI flags.

Configuration classes are frozen attrs classes with defaults and validators. ``build(cls,
data)`` turns nested dicts of TOML-ish values into them, converting each value to the field's
declared type and naming the exact key on any error (``decision.min_ev: expected a number,
got 'abc'``). Unknown keys are errors too: a typo must not silently fall back to a default.

Precedence, lowest first: class defaults < TOML file < environment (``KBOT_SECTION__KEY``, and
``.env`` for variables not already set) < CLI flags.
"""

from __future__ import annotations

import enum
import hashlib
import json
import os
import re
import types
import typing
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import attrs

ENV_PREFIX = "KBOT_"
SECRET_WORDS = ("key", "secret", "token", "password", "webhook")
_NOT_SECRET = ("key_id", "private_key_path")  # identifiers/paths are shown; key material never is


class ConfigError(ValueError):
    """Invalid configuration; the message names the key and what is wrong."""


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _convert(value: Any, tp: Any, key: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _convert(value, a, key)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if errors else f"{key}: invalid value {value!r}")
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"{key}: expected one of {', '.join(map(repr, args))}, got {value!r}")
        return value
    if origin in (tuple, list):
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        item_t = args[0] if args else Any
        items = [_convert(v, item_t, f"{key}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if attrs.has(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, Mapping):
            raise ConfigError(f"{key}: expected a table of settings, got {value!r}")
        return build(tp, value, key)
    if tp is Any:
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("1", "true", "yes", "on"):
            return True
        if isinstance(value, str) and value.strip().lower() in ("0", "false", "no", "off", ""):
            return False
        raise ConfigError(f"{key}: expected true or false, got {value!r}")
    if tp is int:
        if isinstance(value, bool):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        try:
            f = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{key}: expected an integer, got {value!r}") from None
        if f != int(f):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        return int(f)
    if tp is float:
        if isinstance(value, bool):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{key}: expected a number, got {value!r}") from None
    if tp is Decimal:
        if isinstance(value, bool):
            raise ConfigError(f"{key}: expected a decimal number, got {value!r}")
        try:
            d = Decimal(str(value))
        except (InvalidOperation, ValueError):
            raise ConfigError(f"{key}: expected a decimal number, got {value!r}") from None
        if not d.is_finite():
            raise ConfigError(f"{key}: expected a finite number, got {value!r}")
        return d
    if tp is str:
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise ConfigError(f"{key}: expected a string, got {value!r}")
        return str(value)
    if isinstance(tp, type) and issubclass(tp, Path):
        return Path(str(value))
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        try:
            return tp(value)
        except ValueError:
            names = ", ".join(repr(m.value) for m in tp.__members__.values())
            raise ConfigError(f"{key}: expected one of {names}, got {value!r}") from None
    return value


def _settings_class(tp: Any) -> type | None:
    """The attrs class a field holds (``X`` or ``X | None``), or None."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        tp = inner[0] if len(inner) == 1 else None
    return tp if isinstance(tp, type) and attrs.has(tp) else None


def _unknown(key: str, k: str, fields: Mapping[str, Any]) -> str:
    close = [n for n in fields if n.startswith(k[:3])]
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    return f"{key}: unknown setting{hint}"


def unknown_settings(cls: type, data: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Every key of ``data`` that ``cls`` has no setting for, in tables of settings too, as
    ``dotted.key: unknown setting (did you mean ...?)``: so all of them are reported at once."""
    hints = _hints(cls)
    fields = attrs.fields_dict(cls)
    out: list[str] = []
    for k, v in data.items():
        key = f"{prefix}.{k}" if prefix else k
        if k not in fields:
            out.append(_unknown(key, k, fields))
            continue
        sub = _settings_class(hints.get(k))
        if sub is not None and isinstance(v, Mapping):
            out.extend(unknown_settings(sub, v, key))
    return out


def build(cls: type, data: Mapping[str, Any], prefix: str = "") -> Any:
    """Instantiate attrs class ``cls`` from ``data``; errors name the dotted key. Unknown keys
    anywhere in ``data`` are reported together, in one error."""
    if not prefix:
        unknown = unknown_settings(cls, data)
        if len(unknown) > 1:
            raise ConfigError(f"{len(unknown)} unknown settings: " + "; ".join(unknown))
    hints = _hints(cls)
    fields = {f.name: f for f in attrs.fields(cls)}
    kwargs: dict[str, Any] = {}
    for k, v in data.items():
        key = f"{prefix}.{k}" if prefix else k
        if k not in fields:
            raise ConfigError(_unknown(key, k, fields))
        if fields[k].converter is not None:
            # The class converts this field itself (e.g. a spec string or a sub-table): hand it
            # the raw value and report its complaint under the dotted key.
            kwargs[k] = v
        else:
            kwargs[k] = _convert(v, hints[k], key)
    try:
        return cls(**kwargs)
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{prefix or cls.__name__}: {exc}") from None


def to_plain(obj: Any) -> Any:
    """Back to TOML-ish plain data (Decimal as string, Path as string, tuples as lists)."""
    if attrs.has(type(obj)):
        return {f.name: to_plain(getattr(obj, f.name)) for f in attrs.fields(type(obj))}
    if isinstance(obj, (list, tuple)):
        return [to_plain(v) for v in obj]
    if isinstance(obj, Decimal):
        return str(obj)
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "value") and hasattr(type(obj), "__members__"):
        return obj.value
    return obj


def is_secret(name: str) -> bool:
    n = name.lower()
    if n in _NOT_SECRET:
        return False
    return any(w in n for w in SECRET_WORDS)


def redact(plain: Any, name: str = "") -> Any:
    if isinstance(plain, dict):
        return {k: redact(v, k) for k, v in plain.items()}
    if isinstance(plain, list):
        return [redact(v, name) for v in plain]
    if isinstance(plain, str) and plain and is_secret(name):
        return "<redacted>"
    return plain


def digest(plain: Mapping[str, Any]) -> str:
    """Stable short digest of a configuration (secrets redacted first), for the runs table."""
    text = json.dumps(redact(dict(plain)), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def deep_merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def set_path(data: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    d = data
    for p in parts[:-1]:
        d = d.setdefault(p, {})
        if not isinstance(d, dict):
            raise ConfigError(f"{dotted}: {p} is not a table")
    d[parts[-1]] = value


def env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    """``KBOT_DECISION__MIN_EV=0.02`` -> ``{"decision": {"min_ev": "0.02"}}``. Top-level keys:
    ``KBOT_VENUE=sim``. Values stay strings; ``build`` converts them."""
    out: dict[str, Any] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        rest = name[len(ENV_PREFIX):].lower()
        if not rest:
            continue
        set_path(out, rest.replace("__", "."), value)
    return out


_ENV_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")


def parse_dotenv(text: str) -> dict[str, str]:
    """Minimal ``.env`` parser: ``KEY=value``, optional quotes, ``#`` comments, ``export``."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = _ENV_LINE.match(line)
        if not m:
            continue
        key, val = m.group(1), m.group(2)
        if len(val) >= 2 and val[0] == val[-1] and val[0] in "\"'":
            val = val[1:-1]
        else:
            val = val.split(" #", 1)[0].strip()
        out[key] = val
    return out


def environment_with_dotenv(path: str | Path | None = ".env", environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The process environment plus ``.env`` values for variables not already set."""
    env = dict(os.environ if environ is None else environ)
    if path is not None and Path(path).is_file():
        for k, v in parse_dotenv(Path(path).read_text()).items():
            env.setdefault(k, v)
    return env
