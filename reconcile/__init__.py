"""logflow-reconcile: prove that every request the load balancer served was archived as a log line."""

__version__ = "0.1.0"
