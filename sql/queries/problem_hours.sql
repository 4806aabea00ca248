-- Judged hours that need attention (every status except ok and pending), newest first,
-- from the results history of every job.
SELECT job, kind, resource, window_start, status, expected, archived, ratio, bytes, baseline,
  threshold, message, judged_at
FROM reconcile_results
WHERE dt BETWEEN '{{start_dt}}' AND '{{end_dt}}'
  AND window_start >= TIMESTAMP '{{start}}'
  AND window_start < TIMESTAMP '{{end}}'
  AND status NOT IN ('ok', 'pending')
ORDER BY window_start DESC, job, resource
