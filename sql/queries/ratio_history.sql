-- Trailing hours of one job and resource whose archive was complete, for a learned
-- expected ratio (the median of archived / expected; see docs/check.md).
-- Hours with a manifest disagreement, no traffic, or nothing archived are left out.
SELECT window_start, expected, archived
FROM reconcile_results
WHERE kind = 'logflow'
  AND dt BETWEEN '{{start_dt}}' AND '{{end_dt}}'
  AND job = '{{job}}'
  AND resource = '{{resource}}'
  AND window_start >= TIMESTAMP '{{start}}'
  AND window_start < TIMESTAMP '{{end}}'
  AND status IN ('ok', 'gap', 'surplus')
  AND expected > 0
  AND archived > 0
  AND (detail IS NULL OR strpos(detail, '"manifest_mismatch"') = 0)
ORDER BY window_start
