-- The archive: one row per archived log document, Parquet in Hive partitions dt=YYYY-MM-DD/hour=HH.
-- `reconcile sql ddl` fills the columns from the archive's table schema (_schema/table.json),
-- the same for every window: one table reads the whole archive (docs/schema.md).
-- Partition projection: no crawler and no MSCK REPAIR; a new hour is queryable once written.
-- Files and folders starting with _ (manifests, _rejects/, _staging/) are ignored by Athena.
CREATE EXTERNAL TABLE IF NOT EXISTS archive_logs (
{{columns}}
)
PARTITIONED BY (dt string, hour int)
STORED AS PARQUET
LOCATION '{{archive_location}}/'
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.dt.type' = 'date',
  'projection.dt.format' = 'yyyy-MM-dd',
  'projection.dt.range' = '{{projection_start}},NOW',
  'projection.dt.interval' = '1',
  'projection.dt.interval.unit' = 'DAYS',
  'projection.hour.type' = 'integer',
  'projection.hour.range' = '0,23',
  'projection.hour.digits' = '2',
  'storage.location.template' = '{{archive_location}}/dt=${dt}/hour=${hour}'
)
