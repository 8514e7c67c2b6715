-- Today's (UTC) realized PnL and fees per mode, from the append-only ledger.
SELECT mode,
       sum(CASE WHEN kind = 'realized_pnl' THEN amount ELSE 0 END) AS realized_pnl,
       -sum(CASE WHEN kind = 'fee' THEN amount ELSE 0 END) AS fees_paid,
       count(DISTINCT CASE WHEN kind = 'buy' THEN ref END) AS fills
FROM ledger_entries
WHERE ts >= strftime('%s', date('now'))
GROUP BY mode;
