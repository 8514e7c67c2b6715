-- pnl: realized PnL of positions closed since --since, by UTC day and series (with fees and win count)
SELECT
    kbot_day(p.closed_ts) AS day,
    COALESCE(m.series_ticker, '?') AS series_ticker,
    p.mode,
    COUNT(*) AS positions,
    SUM(CASE WHEN p.realized_pnl > 0 THEN 1 ELSE 0 END) AS winners,
    SUM(p.count) AS contracts,
    SUM(p.cost) AS cost,
    SUM(p.fees) AS fees,
    SUM(p.realized_pnl) AS realized_pnl
FROM positions p
LEFT JOIN markets m ON m.ticker = p.ticker
WHERE p.status <> 'open'
  AND p.closed_ts >= :since
  AND (CAST(:run_id AS VARCHAR(64)) IS NULL OR p.run_id = :run_id)
GROUP BY kbot_day(p.closed_ts), COALESCE(m.series_ticker, '?'), p.mode
ORDER BY day, series_ticker, p.mode
