"""Alerts people trust: one clear message per incident, sent once, resolved when it is over,
never silently lost.

Findings become alerts (one per bad hour) grouped into incidents (consecutive bad hours of
one job, kind, resource and status family). Incidents go to a signed generic webhook, Slack,
Alertmanager and PagerDuty; state beside the archive makes repeats, resolutions and
concurrent runs safe. See ``docs/alerts.md``.

Public API::

    report = notify(spec, findings)            # after check / egress
    report = notify(spec, findings, dry_run=True)   # what would be sent
    report = send_test(spec)                   # `reconcile alerts test`
    report.ok, report.per_sink(), report.rows(), report.as_dict()
"""

from __future__ import annotations

from .config import AlertsConfig
from .model import Alert, Incident, Notification, fingerprint, group, incident_key
from .notify import DeliveryResult, NotifyReport, SinkSummary, notify, send_test
from .state import AlertStateError

__all__ = [
    "Alert",
    "AlertStateError",
    "AlertsConfig",
    "DeliveryResult",
    "Incident",
    "Notification",
    "NotifyReport",
    "SinkSummary",
    "fingerprint",
    "group",
    "incident_key",
    "notify",
    "send_test",
]
