-- decisions: TAKE/PASS counts by reason code since --since ("(all)" = every decision; a decision with several reasons counts once under each)
WITH d AS (
    SELECT decision_id, action, ticker
    FROM decisions
    WHERE ts >= :since
      AND (CAST(:run_id AS VARCHAR(64)) IS NULL OR run_id = :run_id)
),
totals AS (
    SELECT action, COUNT(*) AS n FROM d GROUP BY action
),
by_reason AS (
    SELECT d.action, COALESCE(r.reason, '(none)') AS reason, COUNT(*) AS decisions, COUNT(DISTINCT d.ticker) AS markets
    FROM d
    LEFT JOIN decision_reasons r ON r.decision_id = d.decision_id
    GROUP BY d.action, COALESCE(r.reason, '(none)')
    UNION ALL
    SELECT action, '(all)', COUNT(*), COUNT(DISTINCT ticker)
    FROM d
    GROUP BY action
)
SELECT
    b.action,
    b.reason,
    b.decisions,
    b.markets,
    1.0 * b.decisions / t.n AS share
FROM by_reason b
JOIN totals t ON t.action = b.action
ORDER BY b.action DESC, CASE WHEN b.reason = '(all)' THEN 0 ELSE 1 END, b.decisions DESC, b.reason
