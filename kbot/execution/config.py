"""Configuration of execution: ``[execution]`` (how TAKEs become orders, paper fills,
reconciliation) and ``[live]`` (the second opt-in for real orders). Durations are seconds of
kbot's clock (the simulated clock under ``--venue sim``) unless they say otherwise."""

from __future__ import annotations

from typing import Literal

import attrs

TIME_IN_FORCE = ("immediate_or_cancel", "fill_or_kill", "good_till_canceled")


def _nonneg(_inst: object, attribute: attrs.Attribute[float], value: float) -> None:
    if value < 0:
        raise ValueError(f"{attribute.name} must be >= 0, got {value}")


def _positive(_inst: object, attribute: attrs.Attribute[float], value: float) -> None:
    if value <= 0:
        raise ValueError(f"{attribute.name} must be > 0, got {value}")


@attrs.frozen
class PaperConfig:
    # A paper order meets the book this long after the decision (the round trip a real order
    # would take): takers walk the book as it stands then; cancels and amends take effect then.
    latency_s: float = attrs.field(default=0.25, validator=_nonneg)
    # Cancellations ahead of a resting order shorten its queue (displayed size at its price
    # falling below the queue ahead of it); False: only trades at its price do.
    queue_shrinks_with_book: bool = True
    # Trades inferred from the ticker channel's volume for markets without a trade channel
    # (``kbot.execution.fills.TradeInference``): recordings made without one (the organics
    # captures turn it on); off live, where the trade channel reports every trade.
    infer_trades: bool = False


@attrs.frozen
class ReconcileConfig:
    every_s: float = attrs.field(default=30.0, validator=_positive)  # continuous check, and after every reconnect
    # A mismatch seen in two consecutive passes: adopt the venue's view into the ledger (True), or
    # flag it, alert, and halt new orders in that market until it clears (False, the default).
    adopt: bool = False
    # Live: the REST fill poll (fallback and check of the WS fill channel), how far back it looks.
    fill_poll_s: float = attrs.field(default=10.0, validator=_positive)
    fill_lookback_s: float = attrs.field(default=300.0, validator=_positive)
    # Live: a foreign resting order (not placed by kbot) in a market halts kbot's orders there.
    halt_on_foreign_orders: bool = True
    retry_s: float = attrs.field(default=15.0, validator=_positive)  # start-up reconciliation retry


@attrs.frozen
class ExecutionConfig:
    # Orders for TAKE decisions: a limit order at the decided price (the ask of the side bought).
    time_in_force: Literal["immediate_or_cancel", "fill_or_kill", "good_till_canceled"] = "immediate_or_cancel"
    post_only: bool = False  # good_till_canceled only: never take liquidity (a crossing order is rejected)
    order_ttl_s: float = attrs.field(default=0.0, validator=_nonneg)  # good_till_canceled: expire after (0: never)
    # Resting orders are canceled this long before their market closes; no new order inside it.
    close_cutoff_s: float = attrs.field(default=30.0, validator=_nonneg)
    # A TAKE older than this when the executor gets to it is not sent (the book has moved on).
    max_decision_age_s: float = attrs.field(default=10.0, validator=_positive)
    client_order_prefix: str = "kb"  # client order id = <prefix>-<decision id>
    cancel_on_stop: bool = True  # a clean stop cancels kbot's resting orders (a crash cannot)
    # Live: one create/cancel waits at most this long (real seconds, retries and backoff included);
    # then its outcome is unknown and resolved by a query. Bounds how long a 429 storm can hold up
    # the executor (the kill switch, the close cutoff).
    request_timeout_s: float = attrs.field(default=5.0, validator=_positive)
    paper: PaperConfig = attrs.field(factory=PaperConfig)
    reconcile: ReconcileConfig = attrs.field(factory=ReconcileConfig)

    def __attrs_post_init__(self) -> None:
        if self.time_in_force not in TIME_IN_FORCE:
            raise ValueError(f"execution.time_in_force must be one of {', '.join(TIME_IN_FORCE)}")
        if self.post_only and self.time_in_force != "good_till_canceled":
            raise ValueError("execution.post_only needs execution.time_in_force = good_till_canceled")
        if self.order_ttl_s and self.time_in_force != "good_till_canceled":
            raise ValueError("execution.order_ttl_s applies to good_till_canceled orders only")
        if not self.client_order_prefix or "-" in self.client_order_prefix or "~" in self.client_order_prefix:
            raise ValueError("execution.client_order_prefix must be non-empty, without '-' or '~'")


@attrs.frozen
class LiveConfig:
    # The second opt-in for real orders (the first is --mode live). Set it in the config file,
    # or pass --i-accept-real-money.
    enabled: bool = False


LIVE_OPT_IN_HELP = (
    "live trading sends real orders with real money and needs two opt-ins: `--mode live` and "
    "`[live] enabled = true` in the config file (or the flag `--i-accept-real-money`)"
)
