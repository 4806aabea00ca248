-- Results history: one row per judged (job, resource, hour), written by `reconcile check`
-- (kind logflow) and `reconcile egress` (kind egress); a re-check replaces its hours.
-- Layout <results>/kind=<kind>/dt=YYYY-MM-DD/<job>.parquet (reconcile/results.py).
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
  `judged_at` timestamp
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
