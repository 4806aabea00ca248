-- Where logs went missing, by hop: for each job and log-flow status over a range, how many
-- hours and how many log rows were lost or duplicated before Elasticsearch (ingest) and
-- between Elasticsearch and the archive (archive), from the results history.
-- `stale` hours are not losses: Elasticsearch holds documents the archive lacks, and the
-- next scheduled run re-archives them; late_documents counts them.
SELECT
  job,
  status,
  hop,
  count(*) AS hours,
  sum(CASE WHEN indexed IS NOT NULL THEN expected - indexed END) AS ingest_difference,
  sum(CASE WHEN indexed IS NOT NULL THEN indexed - archived END) AS archive_difference,
  sum(CASE WHEN status = 'stale' THEN indexed - archived ELSE 0 END) AS late_documents,
  sum(CASE WHEN indexed IS NULL THEN 1 ELSE 0 END) AS hours_beyond_retention
FROM reconcile_results
WHERE kind = 'logflow'
  AND dt BETWEEN '{{start_dt}}' AND '{{end_dt}}'
  AND window_start >= TIMESTAMP '{{start}}'
  AND window_start < TIMESTAMP '{{end}}'
  AND status NOT IN ('ok', 'pending')
GROUP BY job, status, hop
ORDER BY job, hours DESC, status, hop
