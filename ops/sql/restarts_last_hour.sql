-- What crashed or restarted in the last hour (newest first), with the reason.
SELECT datetime(ts, 'unixepoch') AS utc, supervisor, child, kind, attempt, round(delay_s, 2) AS delay_s, reason
FROM supervision_events
WHERE ts >= strftime('%s', 'now') - 3600 AND kind IN ('crashed', 'restarting', 'gave_up', 'shutdown_timeout')
ORDER BY ts DESC;
