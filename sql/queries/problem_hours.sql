-- Judged hours that need attention (every status except ok and pending: gap, surplus,
-- missing, stale, no_traffic, spike), newest first, from the results history of every job,
-- with the three figures and the hop that lost or duplicated logs.
SELECT job, kind, resource, window_start, status, expected, indexed, archived, hop, ratio,
  bytes, baseline, threshold, message, judged_at
FROM reconcile_results
WHERE dt BETWEEN '{{start_dt}}' AND '{{end_dt}}'
  AND window_start >= TIMESTAMP '{{start}}'
  AND window_start < TIMESTAMP '{{end}}'
  AND status NOT IN ('ok', 'pending')
ORDER BY window_start DESC, job, resource
