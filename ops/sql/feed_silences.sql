-- Feed connection changes in the last day (disconnects, reconnects, stale books).
SELECT datetime(ts, 'unixepoch') AS utc, feed, status, detail
FROM feed_events
WHERE ts >= strftime('%s', 'now') - 86400 AND status != 'connected'
ORDER BY ts DESC
LIMIT 200;
