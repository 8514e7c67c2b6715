-- positions: open positions, and positions settled since --since, with realized and unrealized PnL
-- Money columns are as the ledger recorded them: cost and fees in dollars paid, realized_pnl
-- and unrealized_pnl (at mark_price, the exit-side bid) as the ledger computed them.
SELECT
    p.run_id,
    p.mode,
    p.ticker,
    p.status,
    p.side,
    p.count,
    p.avg_price,
    p.cost,
    p.fees,
    p.mark_price,
    p.unrealized_pnl,
    p.realized_pnl,
    p.result,
    p.opened_ts,
    p.closed_ts
FROM positions p
WHERE (CAST(:run_id AS VARCHAR(64)) IS NULL OR p.run_id = :run_id)
  AND (p.status = 'open' OR p.closed_ts >= :since)
ORDER BY CASE WHEN p.status = 'open' THEN 0 ELSE 1 END, p.closed_ts DESC, p.ticker, p.run_id
