-- Requests per hour window from the ALB access logs: the `expected` side of the check.
-- Counted by request_creation_time (not `time`, not the delivery folder `day`), without what
-- the application never sees: requests whose last action is waf (blocked by AWS WAF),
-- fixed-response or redirect. Returns (window_start, expected); hours without requests have
-- no row. {{start}} and {{end}} are UTC ('YYYY-MM-DD HH:MM:SS' or ISO 8601, end exclusive);
-- {{load_balancers}} is a list of quoted ids ('app/hub-prod/50dc6c495c0c9188', ...).
-- Delivery folders from the start's day to the day after the end's are read, as requests made
-- before midnight are often delivered after it. The job's host and path filters cannot be
-- written here: reconcile applies them when it reads the logs itself (docs/expected-counts.md).
SELECT window_start, count(*) AS expected
FROM (
  SELECT date_trunc('hour', created) AS window_start
  FROM (
    SELECT
      TRY_CAST(replace(substr(request_creation_time, 1, 19), 'T', ' ') AS timestamp) AS created,
      actions_executed
    FROM alb_access_logs
    WHERE day BETWEEN replace(substr('{{start}}', 1, 10), '-', '/')
      AND replace(substr(CAST(CAST(substr('{{end}}', 1, 10) AS date) + INTERVAL '1' DAY AS varchar), 1, 10), '-', '/')
      AND elb IN ({{load_balancers}})
  ) AS entries
  WHERE created >= CAST(replace(substr('{{start}}', 1, 19), 'T', ' ') AS timestamp)
    AND created < CAST(replace(substr('{{end}}', 1, 19), 'T', ' ') AS timestamp)
    AND NOT (actions_executed = 'waf' OR actions_executed LIKE '%,waf')
    AND NOT (actions_executed = 'fixed-response' OR actions_executed LIKE '%,fixed-response')
    AND NOT (actions_executed = 'redirect' OR actions_executed LIKE '%,redirect')
) AS counted
GROUP BY window_start
ORDER BY window_start
