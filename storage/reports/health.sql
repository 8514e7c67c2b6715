-- health: per run and actor since --since: snapshots, worst inbox depth and peak, message counts, restarts, errors, longest silence
SELECT
    h.run_id,
    h.actor,
    COUNT(*) AS snapshots,
    MAX(h.inbox_depth) AS max_depth,
    MAX(h.inbox_peak) AS inbox_peak,
    MAX(h.msgs_in) AS msgs_in,
    MAX(h.msgs_out) AS msgs_out,
    MAX(h.restarts) AS restarts,
    MAX(h.errors) AS errors,
    MAX(h.last_msg_age_s) AS max_msg_age_s,
    MAX(h.ts) AS last_ts
FROM health h
WHERE h.ts >= :since
  AND (CAST(:run_id AS VARCHAR(64)) IS NULL OR h.run_id = :run_id)
GROUP BY h.run_id, h.actor
ORDER BY h.run_id, h.actor
