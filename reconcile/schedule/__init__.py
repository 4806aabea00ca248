"""The scheduled unit: ``reconcile run`` for cron or a Kubernetes CronJob."""
