-- model: Brier score and log loss of the model vs the market mid, by series and horizon bucket (scored edge snapshots since --since)
-- n_market counts the snapshots that had a market price; market columns average over those.
WITH s AS (
    SELECT
        s.series_ticker,
        s.horizon_s,
        CASE
            WHEN s.horizon_s < 300 THEN '0-5m'
            WHEN s.horizon_s < 900 THEN '5-15m'
            WHEN s.horizon_s < 3600 THEN '15-60m'
            WHEN s.horizon_s < 14400 THEN '1-4h'
            WHEN s.horizon_s < 86400 THEN '4-24h'
            ELSE '24h+'
        END AS horizon,
        s.brier,
        s.log_loss,
        s.market_brier,
        s.market_log_loss,
        s.pnl_yes,
        s.pnl_no
    FROM scores s
    JOIN edges e ON e.id = s.edge_id
    WHERE s.ts >= :since
      AND (CAST(:run_id AS VARCHAR(64)) IS NULL OR e.run_id = :run_id)
)
SELECT
    series_ticker,
    horizon,
    COUNT(*) AS n,
    AVG(brier) AS brier,
    AVG(log_loss) AS log_loss,
    COUNT(market_brier) AS n_market,
    AVG(market_brier) AS market_brier,
    AVG(market_log_loss) AS market_log_loss,
    AVG(CASE WHEN market_brier IS NOT NULL THEN brier - market_brier END) AS brier_minus_market,
    AVG(pnl_yes) AS pnl_yes,
    AVG(pnl_no) AS pnl_no
FROM s
GROUP BY series_ticker, horizon
ORDER BY series_ticker, MIN(horizon_s)
