-- restarts: the restart log since --since by supervisor, child, kind and reason (crashes, restarts, give-ups, stuck shutdowns)
SELECT
    supervisor,
    child,
    kind,
    reason,
    COUNT(*) AS events,
    COUNT(DISTINCT traceback_digest) AS tracebacks,
    MAX(attempt) AS max_attempt,
    SUM(delay_s) AS total_delay_s,
    MIN(ts) AS first_ts,
    MAX(ts) AS last_ts
FROM supervision_events
WHERE ts >= :since
  AND kind IN ('crashed', 'restarting', 'gave_up', 'shutdown_timeout')
  AND (CAST(:run_id AS VARCHAR(64)) IS NULL OR run_id = :run_id)
GROUP BY supervisor, child, kind, reason
ORDER BY MAX(ts) DESC, supervisor, child, kind
