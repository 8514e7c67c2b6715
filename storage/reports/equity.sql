-- equity: equity, balance, exposure, unrealized and today's realized PnL over time per run (the last portfolio snapshot of each time bucket)
-- Buckets are as wide as each run's snapshots since --since need for about a hundred rows:
-- 1 min up to 2 h of snapshots, 5 min up to 8 h, 15 min up to a day, 1 h up to 4 days,
-- 4 h up to 16 days, then 1 day. ts is the bucket's start, snapshot_ts the snapshot shown;
-- min_equity/max_equity span every snapshot in the bucket; equity_change is from the bucket
-- before. equity and unrealized_pnl are empty for snapshots recorded before they existed.
-- daily_realized_pnl restarts at 00:00 UTC, as the ledger reports it.
WITH snaps AS (
    SELECT p.run_id, p.mode, p.ts, p.balance, p.exposure, p.unrealized_pnl, p.equity,
           p.daily_realized_pnl, p.open_positions, p.open_orders
    FROM portfolio_snapshots p
    WHERE p.ts >= :since
      AND (CAST(:run_id AS VARCHAR(64)) IS NULL OR p.run_id = :run_id)
),
widths AS (
    SELECT run_id, mode,
        CASE
            WHEN MAX(ts) - MIN(ts) <= 7200 THEN 60
            WHEN MAX(ts) - MIN(ts) <= 28800 THEN 300
            WHEN MAX(ts) - MIN(ts) <= 86400 THEN 900
            WHEN MAX(ts) - MIN(ts) <= 345600 THEN 3600
            WHEN MAX(ts) - MIN(ts) <= 1382400 THEN 14400
            ELSE 86400
        END AS bucket_s
    FROM snaps
    GROUP BY run_id, mode
),
bucketed AS (
    SELECT s.*, w.bucket_s, FLOOR(s.ts / w.bucket_s) * w.bucket_s AS bucket_ts
    FROM snaps s
    JOIN widths w ON w.run_id = s.run_id AND w.mode = s.mode
),
ranked AS (
    SELECT b.*,
        ROW_NUMBER() OVER (PARTITION BY b.run_id, b.mode, b.bucket_ts ORDER BY b.ts DESC) AS rn,
        COUNT(*) OVER (PARTITION BY b.run_id, b.mode, b.bucket_ts) AS snapshots,
        MIN(b.equity) OVER (PARTITION BY b.run_id, b.mode, b.bucket_ts) AS min_equity,
        MAX(b.equity) OVER (PARTITION BY b.run_id, b.mode, b.bucket_ts) AS max_equity
    FROM bucketed b
)
SELECT
    r.run_id,
    r.mode,
    r.bucket_ts AS ts,
    r.bucket_s,
    r.snapshots,
    r.ts AS snapshot_ts,
    r.equity,
    r.equity - LAG(r.equity) OVER (PARTITION BY r.run_id, r.mode ORDER BY r.bucket_ts) AS equity_change,
    r.min_equity,
    r.max_equity,
    r.balance,
    r.exposure,
    r.unrealized_pnl,
    r.daily_realized_pnl,
    r.open_positions,
    r.open_orders
FROM ranked r
WHERE r.rn = 1
ORDER BY r.run_id, r.mode, r.bucket_ts
