"""A spike's top talkers as findings carry them: the one reader of a drill-down's detail.

:class:`reconcile.egress.flowlogs.DrillDown` writes ``detail.drilldown``; alerts, the report
and :class:`reconcile.details.EgressDetail` read it back through :func:`top_talker`. Shared
below the stages, so that reading a finding never imports the egress stage.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .present import fmt_bytes


@dataclass(frozen=True, slots=True)
class TalkerRow:
    """One aggregated line of the drill-down."""

    talker: str
    bytes: int
    packets: int
    flows: int
    aws_service: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "talker": self.talker,
            "bytes": self.bytes,
            "packets": self.packets,
            "flows": self.flows,
        }
        if self.aws_service:
            out["aws_service"] = self.aws_service
        return out


def endpoint_callout(
    avoided: Sequence[Mapping[str, Any]], fmt: Callable[[float], str] | None = None
) -> str:
    """The S3/DynamoDB-through-NAT sentence for ``gateway_endpoint_avoided`` rows, or ``""``."""
    if not avoided:
        return ""
    fmt = fmt or fmt_bytes
    parts = [
        f"{a['service']} ({fmt(a['bytes'])}, {a['share']:.0%} of the flow-logged bytes)"
        for a in avoided
    ]
    names = [str(a["service"]) for a in avoided]
    endpoints = (
        f"an {names[0]} gateway VPC endpoint"
        if names == ["S3"]
        else f"a {names[0]} gateway VPC endpoint"
        if len(names) == 1
        else f"{' and '.join(names)} gateway VPC endpoints"
    )
    return (
        f"traffic to {' and '.join(parts)} goes through the NAT gateway; "
        f"{endpoints} would carry it privately, without NAT processing charges"
    )


@dataclass(frozen=True, slots=True)
class TopTalker:
    """What a spike's drill-down says about who sent the bytes, read back from ``detail``."""

    source: TalkerRow | None
    """The host in the VPC that sent most (None when the flow logs lack pkt-* fields)."""
    destination: TalkerRow | None
    """The remote address that received most (its AWS service, when known)."""
    avoided: tuple[Mapping[str, Any], ...] = ()
    """``gateway_endpoint_avoided`` rows: S3/DynamoDB reached through the NAT gateway."""

    def describe(self, fmt: Callable[[float], str] | None = None) -> str:
        """``10.0.3.17 (60.0 GiB) → 52.216.8.1 (S3, 50.0 GiB)``."""
        fmt = fmt or fmt_bytes
        parts = []
        if self.source:
            parts.append(f"{self.source.talker} ({fmt(self.source.bytes)})")
        if self.destination:
            d = self.destination
            svc = f"{d.aws_service}, " if d.aws_service else ""
            parts.append(f"{d.talker} ({svc}{fmt(d.bytes)})")
        text = " → ".join(parts)
        return text if self.source or not text else f"to {text}"

    def callout(self, fmt: Callable[[float], str] | None = None) -> str:
        """The S3/DynamoDB-through-NAT sentence, or ``""``."""
        return endpoint_callout(self.avoided, fmt)


def _row(items: Any) -> TalkerRow | None:
    if not isinstance(items, list) or not items or not isinstance(items[0], Mapping):
        return None
    r = items[0]
    return TalkerRow(
        str(r["talker"]), int(r.get("bytes") or 0), int(r.get("packets") or 0),
        int(r.get("flows") or 0), r.get("aws_service"),
    )  # fmt: skip


def top_talker(detail: object) -> TopTalker | None:
    """The top source and destination of an egress finding's drill-down (as
    :meth:`DrillDown.as_detail` writes it), from the typed detail (its ``drilldown``
    attribute: :class:`~reconcile.details.EgressDetail`) or its JSON form (alert state), or
    None without a drill-down."""
    if isinstance(detail, Mapping):
        dd: Any = detail.get("drilldown")
    else:
        dd = getattr(detail, "drilldown", None)
    if not isinstance(dd, Mapping):
        return None
    source, destination = _row(dd.get("top_sources")), _row(dd.get("top_destinations"))
    avoided = tuple(a for a in dd.get("gateway_endpoint_avoided") or () if isinstance(a, Mapping))
    if source is None and destination is None and not avoided:
        return None
    return TopTalker(source, destination, avoided)
