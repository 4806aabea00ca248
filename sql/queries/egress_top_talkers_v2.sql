-- Top talkers through one NAT gateway's network interface in [start, end) from flow logs
-- WITHOUT the v5 fields (the default v2 format, or a custom format lacking flow-direction,
-- pkt-srcaddr, pkt-dstaddr, pkt-src-aws-service, pkt-dst-aws-service). Table: vpc_flow_logs.
-- The same text runs on Athena (Trino) and DuckDB; placeholders as egress_top_talkers.sql.
--
-- Every record on a NAT gateway's interface has the gateway's own private address on one
-- side. Without pkt-* fields a record does not say where a host's packet was going, so the
-- two legs of a connection cannot be paired, but each leg alone still tells something:
--   'out': gateway -> public address   (dstaddr public): bytes to that destination;
--          private host -> gateway      (both private, the gateway being the address that
--          also talks to public ones):   bytes from that source.
--   'in':  public address -> gateway    (srcaddr public): replies from that destination;
--          gateway -> private host:      replies to that source.
-- "Private" means RFC 1918 (10/8, 172.16/12, 192.168/16). AWS services are unknown
-- (no pkt-*-aws-service), so no 'aws_service' rows are returned.
WITH legs AS (
    SELECT
        srcaddr,
        dstaddr,
        bytes,
        packets,
        (srcaddr LIKE '10.%' OR srcaddr LIKE '192.168.%' OR srcaddr LIKE '172.16.%'
         OR srcaddr LIKE '172.17.%' OR srcaddr LIKE '172.18.%' OR srcaddr LIKE '172.19.%'
         OR srcaddr LIKE '172.2_.%' OR srcaddr LIKE '172.30.%' OR srcaddr LIKE '172.31.%')
            AS src_private,
        (dstaddr LIKE '10.%' OR dstaddr LIKE '192.168.%' OR dstaddr LIKE '172.16.%'
         OR dstaddr LIKE '172.17.%' OR dstaddr LIKE '172.18.%' OR dstaddr LIKE '172.19.%'
         OR dstaddr LIKE '172.2_.%' OR dstaddr LIKE '172.30.%' OR dstaddr LIKE '172.31.%')
            AS dst_private
    FROM vpc_flow_logs
    WHERE interface_id = '{{interface_id}}'
      AND year IN ({{years}})
      AND month IN ({{months}})
      AND day IN ({{days}})
      AND hour IN ({{hours}})
      AND "start" >= {{start_epoch}}
      AND "start" < {{end_epoch}}
      AND coalesce(action, 'ACCEPT') = 'ACCEPT'
),
gateway AS (
    -- The gateway's private address: the private end of the legs with a public end.
    SELECT addr
    FROM (
        SELECT CASE WHEN src_private THEN srcaddr ELSE dstaddr END AS addr, count(*) AS n
        FROM legs
        WHERE src_private <> dst_private
        GROUP BY 1
    ) AS ends
    ORDER BY n DESC, addr
    LIMIT 1
),
picked AS (
    SELECT 'destination' AS dimension, dstaddr AS talker, bytes, packets
    FROM legs WHERE '{{direction}}' = 'out' AND src_private AND NOT dst_private
    UNION ALL
    SELECT 'source', srcaddr, bytes, packets
    FROM legs WHERE '{{direction}}' = 'out' AND src_private AND dst_private
      AND dstaddr IN (SELECT addr FROM gateway) AND srcaddr NOT IN (SELECT addr FROM gateway)
    UNION ALL
    SELECT 'destination', srcaddr, bytes, packets
    FROM legs WHERE '{{direction}}' = 'in' AND NOT src_private AND dst_private
    UNION ALL
    SELECT 'source', dstaddr, bytes, packets
    FROM legs WHERE '{{direction}}' = 'in' AND src_private AND dst_private
      AND srcaddr IN (SELECT addr FROM gateway) AND dstaddr NOT IN (SELECT addr FROM gateway)
),
grouped AS (
    SELECT 'total' AS dimension, 'all' AS talker, CAST(NULL AS varchar) AS aws_service,
           sum(bytes) AS bytes, sum(packets) AS packets, count(*) AS flows
    FROM picked
    WHERE dimension = 'destination'
    UNION ALL
    SELECT dimension, talker, CAST(NULL AS varchar), sum(bytes), sum(packets), count(*)
    FROM picked
    GROUP BY dimension, talker
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
