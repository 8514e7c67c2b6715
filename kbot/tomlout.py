"""A small TOML writer for plain data (``kbot config show``): tables, strings, numbers,
booleans, lists. Values that are None are written as comments (TOML has no null)."""

from __future__ import annotations

import json
from typing import Any


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)  # a JSON string is a valid TOML basic string
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"cannot write {type(v).__name__} as TOML")


def _key(k: str) -> str:
    return k if k.replace("_", "").replace("-", "").isalnum() else json.dumps(k)


def dumps(data: dict[str, Any]) -> str:
    out: list[str] = []

    def table(d: dict[str, Any], path: list[str]) -> None:
        scalars = [(k, v) for k, v in d.items() if not (isinstance(v, dict) and v)]
        subtables = [(k, v) for k, v in d.items() if isinstance(v, dict) and v]
        if path and scalars:
            out.append(f"\n[{'.'.join(_key(p) for p in path)}]")
        for k, v in scalars:
            if v is None:
                out.append(f"# {_key(k)} =  (unset)")
            elif isinstance(v, dict):  # empty table
                out.append(f"{_key(k)} = {{}}")
            else:
                out.append(f"{_key(k)} = {_value(v)}")
        for k, v in subtables:
            table(v, [*path, k])

    table(data, [])
    return "\n".join(out).lstrip("\n") + "\n"
