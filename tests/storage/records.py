"""Sample records of every type the recorder keeps, with distinct field values (so a column
written out of order cannot read back equal)."""

from __future__ import annotations

import itertools
from decimal import Decimal

from kbot.messages import (
    Alert,
    BadInput,
    BookSnapshot,
    Decision,
    DecisionAbandoned,
    Edge,
    EventFeeUpdate,
    EventInfo,
    FeedStatus,
    Fill,
    FundingRate,
    HealthSnapshot,
    IndexUpdate,
    LatencySample,
    LedgerEntry,
    MarketInfo,
    MarketLifecycle,
    MarketSettled,
    ModelFit,
    OrderEvent,
    PortfolioState,
    Position,
    Quote,
    QuoteAction,
    QuoteTarget,
    Reconciliation,
    SeriesInfo,
    SpotTick,
    Trade,
    VenueBalance,
    VenuePosition,
    VenueSettlement,
)
from supervision import SupervisionEvent

T0 = 1_763_700_000.0  # 2025-11-21 04:40:00 UTC


class Distinct:
    """Distinct floats and 4-dp decimals on demand."""

    def __init__(self, start: int = 1) -> None:
        self._n = itertools.count(start)

    def f(self) -> float:
        return next(self._n) + 0.25

    def d(self) -> Decimal:
        return Decimal(next(self._n)) / Decimal(10000) + Decimal("0.0001")

    def ts(self) -> float:
        return T0 + next(self._n) + 0.5


def edge(v: Distinct | None = None, *, ticker: str = "KXBTCD-25NOV2117-T98000", ts: float | None = None, **kw) -> Edge:
    v = v or Distinct()
    fields = dict(
        ts=ts if ts is not None else v.ts(), ticker=ticker, event_ticker="KXBTCD-25NOV2117",
        series_ticker="KXBTCD", strike_type="greater", floor_strike=v.f(), cap_strike=v.f(), close_ts=v.ts(),
        spot=v.f(), spot_avg_60s=v.f(), sigma=v.f(), sigma_source="ewma", horizon_s=v.f(), prob_yes=0.4567,
        yes_bid=v.d(), yes_ask=v.d(), no_bid=v.d(), no_ask=v.d(), yes_ask_size=v.d(), no_ask_size=v.d(),
        market_mid=v.f(), ev_yes=v.f(), ev_no=v.f(), fee_yes=v.f(), fee_no=v.f(), implied_sigma=v.f(),
        quote_ts=v.ts(), index_ts=v.ts(), model_version="bs-v1", reasons=("stale_spot", "wide_spread"),
        snapshot=True, prob_model=0.4321, model_name="t5-implied", blend_id="b-0123456789ab", model_slope=v.f(),
        sig_momentum=v.f(), sig_mean_reversion=-v.f(), sig_funding=v.f(), sig_imbalance=-0.25, vol_regime=1,
    )  # fmt: skip
    fields.update(kw)
    return Edge(**fields)


def decision(v: Distinct | None = None, *, decision_id: str = "d-1", **kw) -> Decision:
    v = v or Distinct(500)
    fields = dict(
        decision_id=decision_id, ts=v.ts(), ticker="KXBTCD-25NOV2117-T98000", action="PASS", side="yes",
        count=Decimal("0"), limit_price=v.d(), prob_yes=0.61, ev=v.f(), fee=v.d(),
        reasons=("ev_below_min", "spread_too_wide"), edge=edge(v, snapshot=False), kelly_fraction=v.f(),
        exposure=v.d(), daily_pnl=-v.d(), balance=v.d(), config_digest="cfg123",
    )  # fmt: skip
    fields.update(kw)
    return Decision(**fields)


def all_records() -> list:
    """One record of every recorded type."""
    v = Distinct(1000)
    return [
        SpotTick(source="coinbase", ts=v.ts(), price=v.f(), bid=v.f(), ask=v.f(), recv_ts=v.ts(), avg_60s=v.f()),
        IndexUpdate(
            ts=v.ts(), price=v.f(), n_sources=3, sources=("binance", "coinbase", "kraken"), stale=False,
            avg_60s=v.f(), sigma=v.f(), sigma_source="ewma", sigma_reason=None,
        ),  # fmt: skip
        SeriesInfo(ticker="KXBTCD", title="Bitcoin daily", frequency="daily", fee_type="quadratic",
                   fee_multiplier=Decimal("1"), updated_ts=v.ts()),  # fmt: skip
        EventInfo(event_ticker="KXBTCD-25NOV2117", series_ticker="KXBTCD", title="BTC at 5pm", strike_ts=v.ts(),
                  fee_type_override="flat", fee_multiplier_override=Decimal("0.5"), updated_ts=v.ts()),  # fmt: skip
        MarketInfo(
            ticker="KXBTCD-25NOV2117-T98000", event_ticker="KXBTCD-25NOV2117", series_ticker="KXBTCD",
            status="active", strike_type="greater", floor_strike=v.f(), cap_strike=v.f(), open_ts=v.ts(),
            close_ts=v.ts(), expected_expiration_ts=v.ts(), latest_expiration_ts=v.ts(), settlement_timer_s=v.f(),
            result=None, settlement_value=None, expiration_value="98012.34", price_level_structure="linear_cent",
            tick_size=Decimal("0.01"), fee_type="quadratic", fee_multiplier=Decimal("1"), title="Above 98k?",
            yes_sub_title="98,000 or above", exchange_index=7, updated_ts=v.ts(),
        ),  # fmt: skip
        MarketLifecycle(
            ts=v.ts(), ticker="KXBTCD-25NOV2117-T98000", event_type="determined", open_ts=v.ts(), close_ts=v.ts(),
            result="yes", settlement_value=Decimal("1"), determination_ts=v.ts(), settled_ts=v.ts(),
            strike_type="greater", floor_strike=v.f(), cap_strike=v.f(), event_ticker="KXBTCD-25NOV2117",
            price_level_structure="linear_cent", recv_ts=v.ts(),
        ),  # fmt: skip
        Quote(
            ts=v.ts(), ticker="KXBTCD-25NOV2117-T98000", yes_bid=v.d(), yes_ask=v.d(), no_bid=v.d(), no_ask=v.d(),
            yes_bid_size=v.d(), yes_ask_size=v.d(), last_price=v.d(), volume=v.d(), open_interest=v.d(),
            source="ticker", stale=True, recv_ts=v.ts(),
        ),  # fmt: skip
        BookSnapshot(
            ts=v.ts(), ticker="KXBTCD-25NOV2117-T98000",
            yes_bids=((Decimal("0.4500"), Decimal("120.00")), (Decimal("0.4400"), Decimal("35.00"))),
            no_bids=((Decimal("0.5300"), Decimal("10.00")),), seq=42, recv_ts=v.ts(),
        ),  # fmt: skip
        Trade(ts=v.ts(), ticker="KXBTCD-25NOV2117-T98000", trade_id="t-1", yes_price=v.d(), count=v.d(),
              taker_side="no", recv_ts=v.ts()),  # fmt: skip
        MarketSettled(ts=v.ts(), ticker="KXBTCD-25NOV2117-T98000", result="yes", settlement_value=Decimal("1"),
                      source="ws", final=True),  # fmt: skip
        FeedStatus(ts=v.ts(), feed="kalshi_ws", status="connected", detail="shard 0"),
        edge(v),
        decision(v),
        OrderEvent(
            ts=v.ts(), order_id="o-1", client_order_id="c-1", decision_id="d-1", ticker="KXBTCD-25NOV2117-T98000",
            side="yes", action="buy", count=v.d(), price=v.d(), status="resting", mode="paper",
            filled_count=v.d(), reason="posted",
        ),  # fmt: skip
        Fill(fill_id="f-1", order_id="o-1", ts=v.ts(), ticker="KXBTCD-25NOV2117-T98000", side="yes", action="buy",
             count=v.d(), price=v.d(), fee=v.d(), is_taker=True, mode="paper", decision_id="d-1"),  # fmt: skip
        LedgerEntry(entry_id="l-1", ts=v.ts(), mode="paper", ticker="KXBTCD-25NOV2117-T98000", kind="fee",
                    amount=-v.d(), ref="f-1", note="taker fee"),  # fmt: skip
        DecisionAbandoned(ts=v.ts(), decision_id="d-2", ticker="KXBTCD-25NOV2117-T98250", mode="paper",
                          reason="run r-0 ended before its executor took it"),  # fmt: skip
        Position(
            ts=v.ts(), mode="paper", ticker="KXBTCD-25NOV2117-T98000", side="yes", count=v.d(), avg_price=v.d(),
            cost=v.d(), fees=v.d(), realized_pnl=v.d(), unrealized_pnl=-v.d(), mark_price=v.d(), status="open",
            opened_ts=v.ts(), closed_ts=None, result=None,
        ),  # fmt: skip
        PortfolioState(
            ts=v.ts(), mode="paper", balance=v.d(), exposure=v.d(),
            exposure_by_ticker=(("KXBTCD-25NOV2117-T98000", Decimal("4.5000")),), daily_realized_pnl=-v.d(),
            open_orders=(("KXBTCD-25NOV2117-T98000", 2), ("KXBTCD-25NOV2117-T98250", 1)),
            equity=v.d(), unrealized_pnl=-v.d(), open_positions=4,
        ),  # fmt: skip
        EventFeeUpdate(ts=v.ts(), event_ticker="KXBTCD-25NOV2117", fee_type_override="quadratic_with_maker_fees",
                       fee_multiplier_override=Decimal("0.75"), recv_ts=v.ts()),  # fmt: skip
        VenueBalance(ts=v.ts(), balance=v.d(), portfolio_value=v.d(),
                     by_exchange_index=((0, Decimal("12.3400")), (3, Decimal("0.0100")))),  # fmt: skip
        VenuePosition(ts=v.ts(), ticker="KXBTCD-25NOV2117-T98000", position=-v.d(), market_exposure=v.d(),
                      realized_pnl=-v.d(), fees_paid=v.d(), total_traded=v.d(), source="ws"),  # fmt: skip
        VenueSettlement(
            ts=v.ts(), ticker="KXBTCD-25NOV2117-T98000", event_ticker="KXBTCD-25NOV2117", result="no",
            yes_count=v.d(), no_count=v.d(), yes_cost=v.d(), no_cost=v.d(), revenue=v.d(), fee=v.d(), value=v.d(),
        ),  # fmt: skip
        Reconciliation(ts=v.ts(), mode="live", kind="position", ticker="KXBTCD-25NOV2117-T98000", status="mismatch",
                       ledger="5.00", venue="3.00", detail="differs in two passes"),  # fmt: skip
        QuoteTarget(ts=v.ts(), ticker="KXBTC15M-26MAY131445-45", series_ticker="KXBTC15M", yes_bid=v.d(),
                    no_bid=v.d(), size=v.d(), fair=v.f(), reservation=v.f(), half_spread=v.f(), inventory=-v.d(),
                    time_to_close_s=v.f(), close_ts=v.ts(), best_yes_bid=v.d(), best_yes_ask=v.d(),
                    reasons=(), yes_reasons=("max_position",), no_reasons=()),  # fmt: skip
        QuoteAction(ts=v.ts(), ticker="KXBTC15M-26MAY131445-45", side="no", action="replace",
                    client_order_id="kb-mq1.2-n-KXBTC15M-26MAY131445-45", price=v.d(), prev_price=v.d(), count=v.d(),
                    reason="requote", mode="paper", fair=v.f()),  # fmt: skip
        HealthSnapshot(ts=v.ts(), actor="pricer:X", inbox_depth=3, inbox_peak=17, msgs_in=1000, msgs_out=990,
                       last_msg_age_s=v.f(), restarts=2, errors=5, state="running"),  # fmt: skip
        LatencySample(ts=v.ts(), scope="tick_to_decision", interval_s=v.f(), n=1234, mean_ms=v.f(), p50_ms=v.f(),
                      p90_ms=v.f(), p99_ms=v.f(), p999_ms=v.f(), max_ms=v.f()),  # fmt: skip
        Alert(ts=v.ts(), kind="spot_gap", severity="warning", subject="coinbase", message="no tick for 12s"),
        FundingRate(source="binance_usdm", ts=v.ts(), symbol="BTCUSDT", mark_price=v.f(), index_price=v.f(),
                    funding_rate=0.000123, next_funding_ts=v.ts(), recv_ts=v.ts()),
        ModelFit(fit_id="b-0123456789ab", ts=v.ts(), model_name="t5-implied", window_start=v.ts(),
                 window_end=v.ts(), n_rows=1234, n_events=56, params='{"format": "kbot-blend/1"}'),
        BadInput(ts=v.ts(), source="kraken", kind="bad_json", sample="{nope"),
        SupervisionEvent(ts=v.ts(), supervisor="root", child="feeds", kind="crashed",
                         reason="RuntimeError: boom", traceback="Traceback...\nRuntimeError: boom", attempt=2,
                         delay_s=v.f()),  # fmt: skip
    ]
