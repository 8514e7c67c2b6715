"""Kalshi's published schemas as JSON-Schema validators (read from ../shared/specs at test time).

OpenAPI 3.0 ``nullable: true`` is rewritten to ``anyOf [schema, null]``; ``$ref``s resolve
inside the document. ``date-time`` and ``uuid`` formats are checked.
"""

from __future__ import annotations

import datetime as dt
import uuid
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

OPENAPI_FILE = "kalshi-openapi-3.31.0.yaml"
OPENAPI_VERSION = "3.31.0"
ASYNCAPI_FILE = "kalshi-asyncapi-2.0.0.yaml"
ASYNCAPI_VERSION = "2.0.0"

FORMATS = jsonschema.FormatChecker()


@FORMATS.checks("date-time", raises=ValueError)
def _date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if "T" not in value or not (value.endswith("Z") or value[-6] in "+-"):
        raise ValueError(f"not an RFC 3339 date-time: {value!r}")
    dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return True


@FORMATS.checks("uuid", raises=ValueError)
def _uuid(value: object) -> bool:
    if isinstance(value, str):
        uuid.UUID(value)
    return True


def _nullable(node: Any) -> Any:
    if isinstance(node, list):
        return [_nullable(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: _nullable(v) for k, v in node.items() if k not in ("nullable", "example", "examples", "x-omitempty")}
    if node.get("nullable") is True:
        return {"anyOf": [out, {"type": "null"}]}
    return out


# Known errata of the published files, corrected before validating (each with its evidence):
# - AsyncAPI ``marketTicker`` has pattern ^[A-Z0-9-]+$, yet its own examples ("FED-23DEC-T3.00",
#   "HIGHNY-22DEC23-B53.5", "KXBTCD-25AUG0517-T114999.99") and every real KXBTCD ticker contain
#   a '.': the pattern is widened to allow '.'.
ERRATA = {"marketTicker": {"pattern": "^[A-Z0-9.-]+$"}}


class Specs:
    def __init__(self, path: Path) -> None:
        self.doc = yaml.safe_load(path.read_text())
        self.components = _nullable(self.doc["components"])
        for name, patch in ERRATA.items():
            if name in self.components.get("schemas", {}):
                self.components["schemas"][name].update(patch)

    @property
    def version(self) -> str:
        return str(self.doc["info"]["version"])

    def validator(self, schema_name: str) -> jsonschema.Validator:
        root = {"components": self.components, "$ref": f"#/components/schemas/{schema_name}"}
        return jsonschema.Draft202012Validator(root, format_checker=FORMATS)

    def validate(self, schema_name: str, instance: Any) -> None:
        errors = sorted(self.validator(schema_name).iter_errors(instance), key=lambda e: list(e.path))
        if errors:
            lines = [f"{'/'.join(map(str, e.path)) or '<root>'}: {e.message}" for e in errors[:10]]
            raise AssertionError(f"{schema_name} ({self.version}) violations:\n  " + "\n  ".join(lines))


@cache
def openapi(specs_dir: str) -> Specs:
    return Specs(Path(specs_dir) / OPENAPI_FILE)


@cache
def asyncapi(specs_dir: str) -> Specs:
    return Specs(Path(specs_dir) / ASYNCAPI_FILE)


# WS message type -> AsyncAPI payload schema
def ws_schema_for(msg: dict[str, Any]) -> str:
    t = msg.get("type")
    if t == "market_lifecycle_v2":
        return "marketMetadataUpdatedPayload" if msg["msg"].get("event_type") == "metadata_updated" else "marketLifecycleV2Payload"
    if t == "ok":
        if isinstance(msg.get("msg"), list):
            return "listSubscriptionsResponsePayload"
        if isinstance(msg.get("msg"), dict) and "index_ids" in msg["msg"]:
            return "subscribedIndicesResponsePayload"
        return "okResponsePayload"
    return {
        "subscribed": "subscribedResponsePayload",
        "unsubscribed": "unsubscribedResponsePayload",
        "error": "errorResponsePayload",
        "orderbook_snapshot": "orderbookSnapshotPayload",
        "orderbook_delta": "orderbookDeltaPayload",
        "ticker": "tickerPayload",
        "trade": "tradePayload",
        "fill": "fillPayload",
        "user_order": "userOrderPayload",
        "market_position": "marketPositionPayload",
        "event_lifecycle": "eventLifecyclePayload",
        "cfbenchmarks_value": "cfbenchmarksValuePayload",
        "cfbenchmarks_value_5hz": "cfbenchmarksValue5HzPayload",
        "cfbenchmarks_value_indexlist": "cfbenchmarksIndexListPayload",
    }[t]
