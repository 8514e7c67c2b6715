-- calibration: predicted probability vs observed frequency of YES in deciles of the model probability (scored snapshots since --since)
WITH s AS (
    SELECT
        CASE
            WHEN s.prob_yes < 0.1 THEN 0
            WHEN s.prob_yes < 0.2 THEN 1
            WHEN s.prob_yes < 0.3 THEN 2
            WHEN s.prob_yes < 0.4 THEN 3
            WHEN s.prob_yes < 0.5 THEN 4
            WHEN s.prob_yes < 0.6 THEN 5
            WHEN s.prob_yes < 0.7 THEN 6
            WHEN s.prob_yes < 0.8 THEN 7
            WHEN s.prob_yes < 0.9 THEN 8
            ELSE 9
        END AS decile,
        s.prob_yes,
        s.market_prob,
        s.outcome
    FROM scores s
    JOIN edges e ON e.id = s.edge_id
    WHERE s.ts >= :since
      AND (CAST(:run_id AS VARCHAR(64)) IS NULL OR e.run_id = :run_id)
)
SELECT
    decile,
    COUNT(*) AS n,
    AVG(prob_yes) AS predicted,
    AVG(1.0 * outcome) AS observed,
    AVG(1.0 * outcome) - AVG(prob_yes) AS gap,
    AVG(market_prob) AS market_predicted
FROM s
GROUP BY decile
ORDER BY decile
