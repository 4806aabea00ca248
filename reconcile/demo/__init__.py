"""Demo and synthetic-data code: what ``reconcile demo``, the tests and the benchmarks run
against. Production modules never import this package.

- :mod:`.run`: the ``reconcile demo`` pipeline end to end on the embedded local stack.
- :mod:`.localstack`: the embedded local stack (Elasticsearch/OpenSearch-compatible servers
  and moto's AWS server on loopback).
- :mod:`.es_docs`: synthetic request-log documents and raw bulk indexing into Elasticsearch.
- :mod:`.alb_traffic`: synthetic ALB access logs and ``RequestCount`` metrics.
- :mod:`.nat_traffic`: synthetic NAT gateway byte series, the bench fleet, CloudWatch
  metrics and VPC flow logs.
"""
