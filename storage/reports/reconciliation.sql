-- reconciliation: kbot against the venue since --since: every mismatch, clearing, adoption and find, newest first, with what each side said
-- status: mismatch (seen twice; new orders halted in that market, or everywhere for the account),
-- cleared (the two agree again), adopted (the ledger took the venue's view), found (kbot took in
-- something it did not know: an order of an earlier process, a missed fill), ok (start-up pass).
-- still_open: 1 for a mismatch not cleared or adopted since (what an operator must look at).
SELECT
    r.ts,
    r.run_id,
    r.mode,
    r.kind,
    r.ticker,
    r.status,
    r.ledger,
    r.venue,
    r.detail,
    CASE WHEN r.status = 'mismatch' AND NOT EXISTS (
        SELECT 1 FROM reconciliation later
        WHERE later.run_id = r.run_id AND later.kind = r.kind AND later.ticker = r.ticker
          AND later.status IN ('cleared', 'adopted') AND later.ts >= r.ts
    ) THEN 1 ELSE 0 END AS still_open
FROM reconciliation r
WHERE r.ts >= :since
  AND (CAST(:run_id AS VARCHAR(64)) IS NULL OR r.run_id = :run_id)
ORDER BY r.ts DESC, r.kind, r.ticker
