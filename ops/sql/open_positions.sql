-- Open positions of the latest run with unrealized PnL (marked at the exit-side bid).
SELECT p.ticker, p.side, p.count, p.avg_price, p.cost, p.fees, p.mark_price, p.unrealized_pnl,
       datetime(p.opened_ts, 'unixepoch') AS opened_utc
FROM positions p
WHERE p.status = 'open' AND p.run_id = (SELECT run_id FROM runs ORDER BY started_ts DESC LIMIT 1)
ORDER BY p.cost DESC;
