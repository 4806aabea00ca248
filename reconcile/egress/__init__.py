"""Egress watch: NAT gateway bytes per period against a static threshold and a seasonal
baseline, ``ErrorPortAllocation`` as its own finding, and a VPC flow-log drill-down into
every spike (top sources, destinations and AWS services; S3/DynamoDB through NAT named).

Entry point: :func:`reconcile.egress.run.judge_egress`.
"""
