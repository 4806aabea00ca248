"""The four sinks: a signed generic JSON webhook, Slack, Alertmanager and PagerDuty.

Each sink turns a :class:`~reconcile.alerts.model.Notification` into one HTTP POST. Sinks
only render; :mod:`.deliver` sends and retries. Bodies that would carry a secret (the
PagerDuty routing key) are masked in :meth:`Sink.preview`, which is what dry runs show.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from abc import ABC, abstractmethod
from datetime import datetime, timedelta
from typing import Any, ClassVar

from ..findings import iso
from ..present import fmt_bytes, fmt_int
from ..present import fmt_pct as fmt_ratio
from ..redact import mask_url
from .config import AlertsConfig, SinkSecrets, mask_location
from .deliver import HttpRequest
from .model import Incident, Notification
from .wording import endpoint_note, top_talker

WEBHOOK_SCHEMA = "logflow-reconcile/alert/v1"
CLIENT = "logflow-reconcile"
_TEST_TTL = timedelta(minutes=5)


def _json(doc: Any) -> bytes:
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class Sink(ABC):
    """One configured destination."""

    name: ClassVar[str]
    every_run: ClassVar[bool] = False
    """Re-send firing incidents every run (the sink keeps its own repeat timers)."""
    secret_url: ClassVar[bool] = True

    def __init__(self, url: str, cfg: AlertsConfig) -> None:
        self.url = url
        self.cfg = cfg

    @property
    def location(self) -> str:
        """Where it goes, safe to show."""
        return mask_location(self.url, self.secret_url)

    @abstractmethod
    def body(self, note: Notification, sent_at: datetime) -> Any:
        """The JSON document to POST."""

    def headers(self, note: Notification, sent_at: datetime, data: bytes) -> dict[str, str]:
        return {}

    def request(self, note: Notification, sent_at: datetime) -> HttpRequest:
        data = _json(self.body(note, sent_at))
        return HttpRequest(self.url, data, self.headers(note, sent_at, data))

    def preview(self, note: Notification, sent_at: datetime) -> dict[str, Any]:
        """What a dry run shows: location, headers and body, secrets masked."""
        return {
            "sink": self.name,
            "url": self.location,
            "headers": self.preview_headers(note, sent_at),
            "body": self.body(note, sent_at),
        }

    def preview_headers(self, note: Notification, sent_at: datetime) -> dict[str, str]:
        return {}

    def sent_labels(self, note: Notification) -> dict[str, str] | None:
        """Labels to remember for this incident once delivered (Alertmanager identity)."""
        return None

    def follow_up(self, note: Notification) -> Notification | None:
        """A second message ``send_test`` owes this sink (PagerDuty resolves its test)."""
        return None


# -- generic webhook ------------------------------------------------------------------------


def sign(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """Standard Webhooks signature: ``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">``."""
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def _hours(inc: Incident) -> list[dict[str, Any]]:
    pool = inc.alerts if inc.firing and inc.alerts else {**inc.cleared, **inc.alerts}
    return [pool[k].to_dict() for k in sorted(pool)]


class WebhookSink(Sink):
    """Generic JSON webhook, signed per Standard Webhooks when a secret is set."""

    name = "webhook"

    def __init__(self, url: str, cfg: AlertsConfig, key: bytes | None) -> None:
        super().__init__(url, cfg)
        self.key = key

    def body(self, note: Notification, sent_at: datetime) -> Any:
        inc = note.incident
        kind = "reconcile.test" if note.action == "test" else f"reconcile.incident.{note.action}"
        return {
            "type": kind,
            "timestamp": iso(sent_at),
            "data": {
                "schema": WEBHOOK_SCHEMA,
                "id": note.id,
                "action": note.action,
                "repeat": note.repeat,
                "test": note.action == "test",
                "summary": inc.summary(),
                "description": inc.description(),
                "severity": inc.severity,
                "labels": inc.labels(self.cfg.labels),
                "runbook_url": self.cfg.runbook_url,
                "incident": inc.public(),
                "hours": _hours(inc),
            },
        }

    def headers(self, note: Notification, sent_at: datetime, data: bytes) -> dict[str, str]:
        ts = int(sent_at.timestamp())
        out = {"webhook-id": note.id, "webhook-timestamp": str(ts)}
        if self.key is not None:
            out["webhook-signature"] = sign(self.key, note.id, ts, data)
        return out

    def preview_headers(self, note: Notification, sent_at: datetime) -> dict[str, str]:
        out = {"webhook-id": note.id, "webhook-timestamp": "<at send time>"}
        if self.key is not None:
            out["webhook-signature"] = "v1,<HMAC-SHA256 at send time>"
        return out


# -- Slack ----------------------------------------------------------------------------------

_SLACK_ICON = {"firing": ":red_circle:", "resolved": ":large_green_circle:", "test": ":test_tube:"}
_SLACK_WORD = {"firing": "FIRING", "resolved": "RESOLVED", "test": "TEST"}
_TITLE = {
    "loss": "Logs lost",
    "surplus": "More logs than requests",
    "no_traffic": "One-sided traffic",
    "spike": "Egress spike",
    "test": "Test notification",
}


class SlackSink(Sink):
    """Slack incoming webhook: Block Kit blocks plus a plain ``text`` fallback."""

    name = "slack"

    def body(self, note: Notification, sent_at: datetime) -> Any:
        inc = note.incident
        action = note.action
        word = _SLACK_WORD[action] + (" (reminder)" if note.repeat else "")
        title = f"{_TITLE.get(inc.family, inc.family)}: {inc.job} / {inc.resource}"
        prefix = "" if action == "test" else f"[{word}] "
        text = f"{_SLACK_ICON[action]} {prefix}{inc.summary()}"
        t = inc.totals()
        fields = [
            f"*Status*\n{inc.status} ({inc.severity})",
            f"*Since*\n{inc.since:%Y-%m-%d %H:%M} UTC",
            f"*Hours*\n{inc.hours}",
        ]
        if inc.kind == "egress":
            fields += [
                f"*Peak / hour*\n{fmt_bytes(t.get('peak_bytes'))}",
                f"*Baseline*\n{fmt_bytes(t.get('baseline'))}",
            ]
            talker, endpoint = top_talker(inc.peak), endpoint_note(inc.peak)
            fields.append(f"*Peak at*\n{inc.peak.window_start:%Y-%m-%d %H:%M} UTC")
            if talker:
                fields.append(f"*Top talker*\n{talker}")
            if endpoint:
                fields.append(f"*Gateway endpoint*\n{endpoint}")
        elif inc.kind == "logflow":
            fields += [
                f"*Expected*\n{fmt_int(t.get('expected'))}",
                f"*Archived*\n{fmt_int(t.get('archived'))}",
                f"*Ratio*\n{fmt_ratio(t.get('ratio'))}",
            ]
        blocks: list[dict[str, Any]] = [
            {
                "type": "header",
                "text": {
                    "type": "plain_text",
                    "text": _cut(f"{word}: {title}", 150),
                    "emoji": True,
                },
            },
            {"type": "section", "text": {"type": "mrkdwn", "text": _cut(text, 3000)}},
            {
                "type": "section",
                "fields": [{"type": "mrkdwn", "text": _cut(f, 2000)} for f in fields[:10]],
            },
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": _cut(f"*Next step:* {inc.next_step()}", 3000)},
            },
        ]
        context = [f"incident `{inc.key}`", f"job `{inc.job}`", CLIENT]
        if note.repeat:
            context.append(f"repeats every {self.cfg.repeat_interval}")
        if self.cfg.runbook_url:
            context.append(f"<{self.cfg.runbook_url}|runbook>")
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(context)}]}
        )
        return {"text": _cut(text, 3000), "blocks": blocks}


# -- Alertmanager ---------------------------------------------------------------------------


class AlertmanagerSink(Sink):
    """Alertmanager API v2: ``POST /api/v2/alerts`` with a list of alerts."""

    name = "alertmanager"
    every_run = True
    secret_url = False

    def __init__(self, base_url: str, cfg: AlertsConfig) -> None:
        super().__init__(base_url.rstrip("/") + "/api/v2/alerts", cfg)

    @property
    def location(self) -> str:
        return mask_url(self.url)

    def _labels(self, note: Notification) -> dict[str, str]:
        inc = note.incident
        if note.action == "resolved" and note.previous_labels:
            return dict(note.previous_labels)
        return inc.labels(self.cfg.labels)

    def _annotations(self, inc: Incident) -> dict[str, str]:
        out = {
            "summary": inc.summary(),
            "description": inc.description(),
            "status": inc.status,
            "hours": str(inc.hours),
            "since": iso(inc.since),
            "next_step": inc.next_step(),
        }
        if self.cfg.runbook_url:
            out["runbook_url"] = self.cfg.runbook_url
        return out

    def body(self, note: Notification, sent_at: datetime) -> Any:
        inc = note.incident
        starts = inc.since
        if note.action == "firing":
            ends = sent_at + self.cfg.alertmanager_ttl
        elif note.action == "test":
            starts, ends = sent_at, sent_at + _TEST_TTL
        else:
            ends = sent_at
        ends = max(ends, starts + timedelta(seconds=1))
        alert: dict[str, Any] = {
            "labels": self._labels(note),
            "annotations": self._annotations(inc),
            "startsAt": iso(starts),
            "endsAt": iso(ends),
        }
        if self.cfg.runbook_url:
            alert["generatorURL"] = self.cfg.runbook_url
        out = [alert]
        if (
            note.action == "firing"
            and note.previous_labels
            and note.previous_labels != alert["labels"]
        ):
            # The incident's labels changed (severity rose): end the alert under the old ones.
            out.append({**alert, "labels": dict(note.previous_labels), "endsAt": iso(sent_at)})
        return out

    def sent_labels(self, note: Notification) -> dict[str, str] | None:
        return self._labels(note)


# -- PagerDuty ------------------------------------------------------------------------------


class PagerDutySink(Sink):
    """PagerDuty Events API v2: ``trigger`` and ``resolve`` with a stable ``dedup_key``."""

    name = "pagerduty"
    secret_url = False

    def __init__(self, url: str, cfg: AlertsConfig, routing_key: str) -> None:
        super().__init__(url, cfg)
        self.routing_key = routing_key

    @staticmethod
    def dedup_key(inc: Incident) -> str:
        prefix = "reconcile-test" if inc.family == "test" else "reconcile"
        return f"{prefix}/{inc.job[:180]}/{inc.key}"

    def body(self, note: Notification, sent_at: datetime) -> Any:
        return self._body(note, sent_at, self.routing_key)

    def _body(self, note: Notification, sent_at: datetime, routing_key: str) -> Any:
        inc = note.incident
        doc: dict[str, Any] = {
            "routing_key": routing_key,
            "dedup_key": self.dedup_key(inc),
            "event_action": "resolve" if note.action == "resolved" else "trigger",
        }
        if note.action == "resolved":
            return doc
        details: dict[str, Any] = {
            **inc.public(),
            "description": inc.description(),
            "labels": inc.labels(self.cfg.labels),
        }
        doc["payload"] = {
            "summary": _cut(inc.summary(), 1024),
            "source": inc.resource,
            "severity": inc.severity,
            "timestamp": iso(sent_at),
            "component": inc.kind,
            "group": inc.job,
            "class": inc.status,
            "custom_details": details,
        }
        doc["client"] = CLIENT
        if self.cfg.runbook_url:
            doc["client_url"] = self.cfg.runbook_url
            doc["links"] = [{"href": self.cfg.runbook_url, "text": "Runbook"}]
        return doc

    def preview(self, note: Notification, sent_at: datetime) -> dict[str, Any]:
        return {
            "sink": self.name,
            "url": self.location,
            "headers": {},
            "body": self._body(note, sent_at, "***"),
        }

    def follow_up(self, note: Notification) -> Notification | None:
        if note.action != "test":
            return None
        return Notification(
            id=note.id + "-resolve",
            sink=note.sink,
            action="resolved",
            incident=note.incident,
            created_at=note.created_at,
        )


def build_sinks(cfg: AlertsConfig, secrets: SinkSecrets) -> list[Sink]:
    """Every sink the spec and environment configure, in a fixed order."""
    out: list[Sink] = []
    if secrets.webhook_url:
        out.append(WebhookSink(secrets.webhook_url, cfg, secrets.webhook_key))
    if secrets.slack_url:
        out.append(SlackSink(secrets.slack_url, cfg))
    if secrets.alertmanager_url:
        out.append(AlertmanagerSink(secrets.alertmanager_url, cfg))
    if secrets.routing_key:
        out.append(PagerDutySink(cfg.pagerduty_url, cfg, secrets.routing_key))
    return out
