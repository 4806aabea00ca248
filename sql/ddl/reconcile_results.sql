-- Results history: one row per judged (job, resource, hour), written by `reconcile check`
-- (kind logflow) and `reconcile egress` (kind egress); a re-check replaces its hours.
-- Layout <results>/kind=<kind>/dt=YYYY-MM-DD/<job>.parquet (reconcile/results.py).
-- expected / indexed / archived are the three hops (load balancer, Elasticsearch now,
-- archive); hop names where a gap or surplus arose: ingest (before Elasticsearch) or archive.
-- Tables created before indexed and hop existed: ALTER TABLE reconcile_results
-- ADD COLUMNS (`indexed` bigint, `hop` string); older files read them as NULL.
CREATE EXTERNAL TABLE IF NOT EXISTS reconcile_results (
  `job` string,
  `resource` string,
  `window_start` timestamp,
  `status` string,
  `expected` bigint,
  `archived` bigint,
  `ratio` double,
  `bytes` bigint,
  `baseline` double,
  `threshold` double,
  `message` string,
  `detail` string,
  `judged_at` timestamp,
  `indexed` bigint,
  `hop` string
)
PARTITIONED BY (kind string, dt string)
STORED AS PARQUET
LOCATION '{{results_location}}/'
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.kind.type' = 'enum',
  'projection.kind.values' = 'logflow,egress',
  'projection.dt.type' = 'date',
  'projection.dt.format' = 'yyyy-MM-dd',
  'projection.dt.range' = '{{projection_start}},NOW',
  'projection.dt.interval' = '1',
  'projection.dt.interval.unit' = 'DAYS',
  'storage.location.template' = '{{results_location}}/kind=${kind}/dt=${dt}'
)
