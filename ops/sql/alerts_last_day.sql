-- Alerts raised in the last day.
SELECT datetime(ts, 'unixepoch') AS utc, severity, kind, subject, message
FROM alerts
WHERE ts >= strftime('%s', 'now') - 86400
ORDER BY ts DESC;
