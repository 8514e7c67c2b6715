-- runs: every kbot run started since --since: mode, venue, version, config digest, how it ended (no end: killed or still running)
SELECT
    run_id,
    mode,
    venue,
    version,
    config_digest,
    host,
    pid,
    started_ts,
    ended_ts,
    COALESCE(ended_ts, :now) - started_ts AS duration_s,
    exit_status,
    exit_reason
FROM runs
WHERE started_ts >= :since
  AND (CAST(:run_id AS VARCHAR(64)) IS NULL OR run_id = :run_id)
ORDER BY started_ts DESC
