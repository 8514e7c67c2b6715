-- The last 50 TAKEs with what the model and the market said at the time.
SELECT datetime(ts, 'unixepoch') AS utc, ticker, side, count, limit_price, round(prob_yes, 3) AS p_yes,
       round(ev, 4) AS ev, fee, yes_bid, yes_ask, round(spot, 2) AS spot, round(sigma, 3) AS sigma, sigma_source
FROM decisions
WHERE action = 'TAKE'
ORDER BY ts DESC
LIMIT 50;
