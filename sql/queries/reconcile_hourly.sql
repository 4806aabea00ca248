-- Hourly reconciliation of load-balancer requests (expected) with archived log rows:
-- the status logic of `reconcile check` in SQL (docs/check.md), for Athena at scale.
-- The placeholders expected_hourly and archived_hourly are queries returning
-- (window_start, expected) and (window_start, archived); `reconcile sql render` fills them
-- from the ALB access-log and archive tables. SQL cannot see manifests, so an hour without archived rows is
-- `missing` here; `reconcile check` tells a committed empty hour apart.
WITH expected AS (
{{expected_hourly}}
),
archived AS (
{{archived_hourly}}
),
hours AS (
  SELECT window_start FROM expected
  UNION
  SELECT window_start FROM archived
),
joined AS (
  SELECT
    h.window_start,
    COALESCE(e.expected, 0) AS expected,
    a.archived,
    COALESCE(e.expected, 0) * CAST({{ratio}} AS double) AS expected_logs
  FROM hours AS h
  LEFT JOIN expected AS e ON e.window_start = h.window_start
  LEFT JOIN archived AS a ON a.window_start = h.window_start
  WHERE h.window_start >= TIMESTAMP '{{start}}'
    AND h.window_start < TIMESTAMP '{{end}}'
),
judged AS (
  SELECT
    window_start,
    expected,
    archived,
    expected_logs,
    greatest(CAST({{abs_tolerance}} AS double), CAST({{rel_tolerance}} AS double) * expected_logs) AS tolerance
  FROM joined
)
SELECT
  window_start,
  expected,
  archived,
  CASE WHEN expected > 0 THEN CAST(COALESCE(archived, 0) AS double) / expected END AS ratio,
  expected_logs,
  tolerance,
  CASE
    WHEN window_start > TIMESTAMP '{{judge_cutoff}}' THEN 'pending'
    WHEN archived IS NULL THEN 'missing'
    WHEN abs(archived - expected_logs) <= tolerance THEN 'ok'
    WHEN expected = 0 OR archived = 0 THEN 'no_traffic'
    WHEN archived < expected_logs THEN 'gap'
    ELSE 'surplus'
  END AS status
FROM judged
ORDER BY window_start
