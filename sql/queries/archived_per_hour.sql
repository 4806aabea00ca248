-- Archived log rows per hour window, as the engine sees the archive table.
-- `reconcile check` counts from Parquet footers and manifests instead (it also catches files
-- the manifest does not list); this query gives the number Athena users will see.
SELECT window_start, archived
FROM (
  SELECT
    CAST(dt || ' ' || lpad(CAST(hour AS varchar), 2, '0') || ':00:00' AS timestamp) AS window_start,
    count(*) AS archived
  FROM archive_logs
  WHERE dt BETWEEN '{{start_dt}}' AND '{{end_dt}}'
  GROUP BY dt, hour
) AS per_hour
WHERE window_start >= TIMESTAMP '{{start}}'
  AND window_start < TIMESTAMP '{{end}}'
ORDER BY window_start
