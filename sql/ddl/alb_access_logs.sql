-- ALB access logs as AWS delivers them: gzip text under
-- <alb_logs_location> = s3://bucket[/prefix]/AWSLogs/<account>/elasticloadbalancing/<region>,
-- one folder per delivery date (yyyy/MM/dd), projected as the partition `day`.
-- The regex is AWS's documented one (Athena user guide, "Create the table for ALB access
-- logs"), made quote-safe, with conn_trace_id and the rewrite fields optional and any newer
-- trailing fields ignored: lines old and new parse, and future fields do not break it.
-- reconcile/expected/alb_logs.py uses the same regex, so both engines agree on malformed lines.
-- `day` is the delivery date: a request created at 23:58 is usually in the next day's folder.
CREATE EXTERNAL TABLE IF NOT EXISTS alb_access_logs (
  type string,
  time string,
  elb string,
  client_ip string,
  client_port int,
  target_ip string,
  target_port int,
  request_processing_time double,
  target_processing_time double,
  response_processing_time double,
  elb_status_code int,
  target_status_code string,
  received_bytes bigint,
  sent_bytes bigint,
  request_verb string,
  request_url string,
  request_proto string,
  user_agent string,
  ssl_cipher string,
  ssl_protocol string,
  target_group_arn string,
  trace_id string,
  domain_name string,
  chosen_cert_arn string,
  matched_rule_priority string,
  request_creation_time string,
  actions_executed string,
  redirect_url string,
  lambda_error_reason string,
  target_port_list string,
  target_status_code_list string,
  classification string,
  classification_reason string,
  conn_trace_id string,
  transformed_host string,
  transformed_uri string,
  request_transform_status string
)
PARTITIONED BY (day string)
ROW FORMAT SERDE 'org.apache.hadoop.hive.serde2.RegexSerDe'
WITH SERDEPROPERTIES (
  'serialization.format' = '1',
  'input.regex' = '([^ "]*) ([^ "]*) ([^ "]*) ([^ "]*):([0-9]*) ([^ "]*)[:-]([0-9]*) ([-.0-9]*) ([-.0-9]*) ([-.0-9]*) (|[-0-9]*) (-|[-0-9]*) ([-0-9]*) ([-0-9]*) "([^ "]*) ([^"]*) (- |[^ "]*)" "([^"]*)" ([A-Z0-9_-]+) ([A-Za-z0-9.-]*) ([^ "]*) "([^"]*)" "([^"]*)" "([^"]*)" ([-.0-9]*) ([^ "]*) "([^"]*)" "([^"]*)" "([^"]*)" "([^"]*)" "([^"]*)" "([^"]*)" "([^"]*)"(?: ([^ "]*))?(?: "([^"]*)" "([^"]*)" "([^"]*)")?(?: .*)?'
)
LOCATION '{{alb_logs_location}}/'
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.day.type' = 'date',
  'projection.day.format' = 'yyyy/MM/dd',
  'projection.day.range' = '2020/01/01,NOW',
  'projection.day.interval' = '1',
  'projection.day.interval.unit' = 'DAYS',
  'storage.location.template' = '{{alb_logs_location}}/${day}'
)
