-- coverage: data gaps since --since: longest silence per feed (spot sources, quote sources, index) and open markets without quotes
WITH ticks AS (
    SELECT 'spot:' || source AS feed, ts FROM spot_ticks WHERE ts >= :since
    UNION ALL
    SELECT 'quotes:' || source, ts FROM quotes WHERE ts >= :since
    UNION ALL
    SELECT 'index', ts FROM index_prices
    WHERE ts >= :since AND (CAST(:run_id AS VARCHAR(64)) IS NULL OR run_id = :run_id)
),
gaps AS (
    SELECT feed, ts, ts - LAG(ts) OVER (PARTITION BY feed ORDER BY ts) AS gap FROM ticks
),
longest AS (
    SELECT feed, gap, ts, ROW_NUMBER() OVER (PARTITION BY feed ORDER BY COALESCE(gap, -1) DESC, ts) AS rn FROM gaps
),
feeds AS (
    SELECT
        g.feed AS subject,
        'feed' AS kind,
        COUNT(*) AS n,
        MIN(g.ts) AS first_ts,
        MAX(g.ts) AS last_ts,
        MAX(l.gap) AS longest_gap_s,
        MAX(l.ts) AS gap_end_ts,
        :now - MAX(g.ts) AS silent_s
    FROM gaps g
    JOIN longest l ON l.feed = g.feed AND l.rn = 1
    GROUP BY g.feed
),
unquoted AS (
    SELECT
        m.ticker AS subject,
        'market_without_quotes' AS kind,
        0 AS n,
        m.open_ts AS first_ts,
        m.close_ts AS last_ts,
        CAST(NULL AS DOUBLE PRECISION) AS longest_gap_s,
        CAST(NULL AS DOUBLE PRECISION) AS gap_end_ts,
        CAST(NULL AS DOUBLE PRECISION) AS silent_s
    FROM markets m
    WHERE (m.close_ts IS NULL OR m.close_ts >= :since)
      AND (m.open_ts IS NULL OR m.open_ts <= :now)
      AND m.status NOT IN ('initialized', 'unopened')
      AND NOT EXISTS (SELECT 1 FROM quotes q WHERE q.ticker = m.ticker AND q.ts >= :since)
)
SELECT subject, kind, n, first_ts, last_ts, longest_gap_s, gap_end_ts, silent_s FROM feeds
UNION ALL
SELECT subject, kind, n, first_ts, last_ts, longest_gap_s, gap_end_ts, silent_s FROM unquoted
ORDER BY kind, subject
