-- Top talkers through one NAT gateway's network interface in [start, end): sources in the
-- VPC, remote destinations, and AWS services (pkt_dst_aws_service / pkt_src_aws_service).
-- Table: vpc_flow_logs (sql/ddl/vpc_flow_logs.sql): VPC flow logs, v5 fields, Parquet with
-- Hive-compatible hourly partitions. The same text runs on Athena (Trino) and DuckDB.
--
-- Placeholders (in double braces, because Athena uses ${...} itself):
--   {{interface_id}}  the NAT gateway's network interface, eni-...
--   {{start_epoch}} {{end_epoch}} Unix seconds; a record belongs to [start_epoch, end_epoch) by its "start" field
--   {{direction}}     'out': hosts -> destinations (BytesOutToDestination, BytesInFromSource)
--                     'in':  replies -> hosts     (BytesInFromDestination, BytesOutToSource)
--   {{years}} {{months}} {{days}} {{hours}}  quoted partition values to read, e.g. '2026';
--                     a superset is fine (files land in the hour they were delivered)
--   {{limit}}         rows per dimension
--
-- Every connection through a NAT gateway shows on its interface as two records per
-- direction (AWS, "Flow log record examples: NAT gateway"). Outbound: an ingress record
-- from the host (srcaddr = host, pkt_dstaddr = the real destination) and an egress record
-- from the gateway to the destination. Replies: an ingress record from the destination
-- and an egress record to the host (pkt_srcaddr = the remote end). Keeping only records
-- whose packet-level address differs from the interface-level one counts each byte once
-- and keeps both the host and the remote end.
WITH flows AS (
    SELECT
        CASE WHEN flow_direction = 'ingress' THEN 'out' ELSE 'in' END AS direction,
        CASE WHEN flow_direction = 'ingress' THEN srcaddr ELSE dstaddr END AS vpc_addr,
        CASE WHEN flow_direction = 'ingress' THEN pkt_dstaddr ELSE pkt_srcaddr END AS remote_addr,
        CASE
            WHEN flow_direction = 'ingress' THEN pkt_dst_aws_service
            ELSE pkt_src_aws_service
        END AS remote_service,
        bytes,
        packets
    FROM vpc_flow_logs
    WHERE interface_id = '{{interface_id}}'
      AND year IN ({{years}})
      AND month IN ({{months}})
      AND day IN ({{days}})
      AND hour IN ({{hours}})
      AND "start" >= {{start_epoch}}
      AND "start" < {{end_epoch}}
      AND coalesce(action, 'ACCEPT') = 'ACCEPT'
      AND (
          (flow_direction = 'ingress' AND pkt_dstaddr <> dstaddr)
          OR (flow_direction = 'egress' AND pkt_srcaddr <> srcaddr)
      )
),
picked AS (
    SELECT
        vpc_addr,
        remote_addr,
        CASE WHEN remote_service = '-' THEN NULL ELSE remote_service END AS remote_service,
        bytes,
        packets
    FROM flows
    WHERE direction = '{{direction}}'
),
grouped AS (
    SELECT 'total' AS dimension, 'all' AS talker, CAST(NULL AS varchar) AS aws_service,
           sum(bytes) AS bytes, sum(packets) AS packets, count(*) AS flows
    FROM picked
    UNION ALL
    SELECT 'source', vpc_addr, CAST(NULL AS varchar), sum(bytes), sum(packets), count(*)
    FROM picked
    GROUP BY vpc_addr
    UNION ALL
    SELECT 'destination', remote_addr, max(remote_service), sum(bytes), sum(packets), count(*)
    FROM picked
    GROUP BY remote_addr
    UNION ALL
    SELECT 'aws_service', remote_service, remote_service, sum(bytes), sum(packets), count(*)
    FROM picked
    WHERE remote_service IS NOT NULL
    GROUP BY remote_service
),
ranked AS (
    SELECT
        dimension, talker, aws_service, bytes, packets, flows,
        row_number() OVER (PARTITION BY dimension ORDER BY bytes DESC, talker) AS talker_rank
    FROM grouped
)
SELECT dimension, talker, aws_service, bytes, packets, flows, talker_rank
FROM ranked
WHERE talker_rank <= {{limit}}
ORDER BY dimension, talker_rank
