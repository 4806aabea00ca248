-- VPC flow logs delivered to Amazon S3 as Parquet with Hive-compatible S3 prefixes and
-- hourly partitions (flow log destination options: FileFormat=parquet,
-- HiveCompatiblePartitions=true, PerHourPartition=true). AWS writes them to
--
--   <bucket>/<prefix>/AWSLogs/aws-account-id=<account>/aws-service=vpcflowlogs/
--     aws-region=<region>/year=YYYY/month=MM/day=DD/hour=HH/<file>.log.parquet
--
-- Columns: the version 2-5 fields with the types of AWS's own Athena DDL for Parquet flow
-- logs (names use underscores in Parquet). Partition projection means no crawler and no
-- MSCK REPAIR TABLE. The partition columns are named without hyphens; the location
-- template maps them onto AWS's hyphenated prefixes.
--
-- Placeholders (in double braces, because Athena uses ${...} itself):
--   {{flow_logs_location}}  s3://<bucket>/<prefix>/AWSLogs/  (with the trailing slash)
--   {{account_ids}}         comma-separated account ids that deliver flow logs there
--   {{regions}}             comma-separated regions, e.g. us-east-1,eu-west-1
--
-- Queries must filter year, month, day and hour (sql/queries/egress_top_talkers.sql does),
-- so Athena projects only the partitions they read.
CREATE EXTERNAL TABLE IF NOT EXISTS vpc_flow_logs (
  version int,
  account_id string,
  interface_id string,
  srcaddr string,
  dstaddr string,
  srcport int,
  dstport int,
  protocol bigint,
  packets bigint,
  bytes bigint,
  `start` bigint,
  `end` bigint,
  action string,
  log_status string,
  vpc_id string,
  subnet_id string,
  instance_id string,
  tcp_flags int,
  type string,
  pkt_srcaddr string,
  pkt_dstaddr string,
  region string,
  az_id string,
  sublocation_type string,
  sublocation_id string,
  pkt_src_aws_service string,
  pkt_dst_aws_service string,
  flow_direction string,
  traffic_path int
)
PARTITIONED BY (
  aws_account_id string,
  aws_service string,
  aws_region string,
  year string,
  month string,
  day string,
  hour string
)
ROW FORMAT SERDE 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe'
STORED AS INPUTFORMAT 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat'
OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat'
LOCATION '{{flow_logs_location}}'
TBLPROPERTIES (
  'EXTERNAL' = 'true',
  'projection.enabled' = 'true',
  'projection.aws_account_id.type' = 'enum',
  'projection.aws_account_id.values' = '{{account_ids}}',
  'projection.aws_service.type' = 'enum',
  'projection.aws_service.values' = 'vpcflowlogs',
  'projection.aws_region.type' = 'enum',
  'projection.aws_region.values' = '{{regions}}',
  'projection.year.type' = 'integer',
  'projection.year.range' = '2020,2099',
  'projection.month.type' = 'integer',
  'projection.month.range' = '1,12',
  'projection.month.digits' = '2',
  'projection.day.type' = 'integer',
  'projection.day.range' = '1,31',
  'projection.day.digits' = '2',
  'projection.hour.type' = 'integer',
  'projection.hour.range' = '0,23',
  'projection.hour.digits' = '2',
  'storage.location.template' = '{{flow_logs_location}}aws-account-id=${aws_account_id}/aws-service=${aws_service}/aws-region=${aws_region}/year=${year}/month=${month}/day=${day}/hour=${hour}/'
)
