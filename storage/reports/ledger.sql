-- ledger: per run and mode: cash by the ledger (entries that move cash) vs the balance of the last portfolio snapshot, realized PnL, fees, how the run ended
-- cash_balance sums ledger_entries.cash rows (kbot.ledger.CASH_KINDS: deposit, buy, fee, sell,
-- settlement, unwind); realized_pnl rows are bookkeeping, not cash. balance_difference is 0 for
-- every run whose books add up (a killed run's books are settled by the next start). Sums are
-- SQL floating point here; storage.queries.ledger_balance is the exact one.
WITH books AS (
    SELECT l.run_id, l.mode,
           COUNT(*) AS entries,
           SUM(CASE WHEN l.cash THEN l.amount ELSE 0 END) AS cash_balance,
           SUM(CASE WHEN l.kind = 'realized_pnl' THEN l.amount ELSE 0 END) AS realized_pnl,
           SUM(CASE WHEN l.kind = 'fee' THEN l.amount ELSE 0 END) AS fees
    FROM ledger_entries l
    GROUP BY l.run_id, l.mode
),
last_snapshot AS (
    SELECT p.run_id, p.mode, p.ts, p.balance,
           ROW_NUMBER() OVER (PARTITION BY p.run_id, p.mode ORDER BY p.ts DESC) AS rn
    FROM portfolio_snapshots p
)
SELECT
    r.run_id,
    b.mode,
    r.venue,
    r.exit_status,
    r.started_ts,
    r.ended_ts,
    b.entries,
    b.cash_balance,
    s.balance AS snapshot_balance,
    b.cash_balance - s.balance AS balance_difference,
    s.ts AS snapshot_ts,
    b.realized_pnl,
    b.fees
FROM books b
JOIN runs r ON r.run_id = b.run_id
LEFT JOIN last_snapshot s ON s.run_id = b.run_id AND s.mode = b.mode AND s.rn = 1
WHERE r.started_ts >= :since
  AND (CAST(:run_id AS VARCHAR(64)) IS NULL OR r.run_id = :run_id)
ORDER BY r.started_ts DESC, b.mode
