"""What every spot protocol object provides to ``SpotFeedClient``."""

from __future__ import annotations

from typing import Any, Protocol

from kbot.messages import FundingRate, SpotTick
from kbot.venues.wire import WireError


class SpotProtocol(Protocol):
    source: str
    reconnect_reason: str | None  # set by parse() when the server announced a shutdown

    def url(self) -> str: ...

    def subscribe_messages(self) -> list[dict[str, Any]]: ...

    def parse(self, text: str, recv_ts: float, mono: float = 0.0) -> list[SpotTick] | list[FundingRate]:
        """Ticks in this frame ([] for control/heartbeat frames); WireError when unusable. (The
        Binance USD-M protocol gives ``FundingRate``s: the funding feed runs on the same client.)"""
        ...


def check_quote(bid: float | None, ask: float | None) -> None:
    if bid is not None and ask is not None and bid > ask:
        raise WireError("out_of_range", f"crossed quote bid {bid} > ask {ask}")
