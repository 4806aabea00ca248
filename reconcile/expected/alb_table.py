"""The ``alb_access_logs`` table in Arrow: its columns, and entries parsed into them.

Columns and types are those of ``sql/ddl/alb_access_logs.sql``, so DuckDB can register the
entries as ``alb_access_logs`` and run the same query files as Athena.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

#: Columns of the ``alb_access_logs`` table (name, Athena type), in DDL order.
COLUMNS: list[tuple[str, str]] = [
    ("type", "string"),
    ("time", "string"),
    ("elb", "string"),
    ("client_ip", "string"),
    ("client_port", "int"),
    ("target_ip", "string"),
    ("target_port", "int"),
    ("request_processing_time", "double"),
    ("target_processing_time", "double"),
    ("response_processing_time", "double"),
    ("elb_status_code", "int"),
    ("target_status_code", "string"),
    ("received_bytes", "bigint"),
    ("sent_bytes", "bigint"),
    ("request_verb", "string"),
    ("request_url", "string"),
    ("request_proto", "string"),
    ("user_agent", "string"),
    ("ssl_cipher", "string"),
    ("ssl_protocol", "string"),
    ("target_group_arn", "string"),
    ("trace_id", "string"),
    ("domain_name", "string"),
    ("chosen_cert_arn", "string"),
    ("matched_rule_priority", "string"),
    ("request_creation_time", "string"),
    ("actions_executed", "string"),
    ("redirect_url", "string"),
    ("lambda_error_reason", "string"),
    ("target_port_list", "string"),
    ("target_status_code_list", "string"),
    ("classification", "string"),
    ("classification_reason", "string"),
    ("conn_trace_id", "string"),
    ("transformed_host", "string"),
    ("transformed_uri", "string"),
    ("request_transform_status", "string"),
]
#: The table's partition column: the delivery date folder, ``yyyy/MM/dd``.
PARTITION = ("day", "string")


def arrow_schema() -> pa.Schema:
    """The ``alb_access_logs`` table as Arrow: the DDL's columns and types, then ``day``."""
    import pyarrow as pa

    types = {"string": pa.string(), "int": pa.int32(), "bigint": pa.int64(), "double": pa.float64()}
    return pa.schema([(n, types[t]) for n, t in [*COLUMNS, PARTITION]])


_INT = r"^-?[0-9]+$"
_DOUBLE = r"^-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)$"


def _number(values: pa.Array, kind: str) -> pa.Array:
    """Text to int/bigint/double; what does not parse is null (as Athena's SerDe reads it)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    target = {"int": pa.int32(), "bigint": pa.int64(), "double": pa.float64()}[kind]
    ok = pc.match_substring_regex(values, _DOUBLE if kind == "double" else _INT)
    return pc.if_else(ok, values, pa.scalar(None, pa.string())).cast(target)


def entry_columns(good: pa.Array) -> dict[str, pa.Array]:
    """Every column of :data:`COLUMNS` for lines that match :data:`.alb_parse.LINE_REGEX`.

    Quoted fields never contain ``"`` in a matching line, so splitting at quotes gives the
    regex's groups; the few composite fields are split with the regex's own sub-patterns.
    Optional trailing groups that did not take part are null, as in Athena.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    parts = pc.split_pattern(good, '"', max_splits=24)

    def seg(i: int) -> pa.Array:
        return pc.list_element(parts, i)

    head = pc.split_pattern(seg(0), " ")
    h = [pc.list_element(head, i) for i in range(12)]
    client = pc.extract_regex(h[3], r"^(?P<ip>[^ \x22]*):(?P<port>[0-9]*)$")
    target = pc.extract_regex(h[4], r"^(?P<ip>[^ \x22]*)[:-](?P<port>[0-9]*)$")
    request = pc.extract_regex(
        seg(1), r"^(?P<verb>[^ \x22]*) (?P<url>[^\x22]*) (?P<proto>- |[^ \x22]*)$"
    )
    tls = pc.split_pattern(seg(4), " ")
    mid = pc.split_pattern(seg(10), " ")
    tail = seg(24)
    rest = pc.extract_regex(
        tail,
        r"^(?: (?P<conn>[^ \x22]*))?(?: \x22(?P<th>[^\x22]*)\x22 \x22(?P<tu>[^\x22]*)\x22"
        r" \x22(?P<ts>[^\x22]*)\x22)?(?: .*)?$",
    )
    null = pa.scalar(None, pa.string())
    has_conn = pc.starts_with(tail, " ")
    has_rewrite = pc.match_substring_regex(tail, r'^ [^ "]* "[^"]*" "[^"]*" "[^"]*"')

    def opt(cond: pa.Array, values: pa.Array) -> pa.Array:
        return pc.if_else(cond, values, null)

    f = pc.struct_field
    text = {
        "type": h[0],
        "time": h[1],
        "elb": h[2],
        "client_ip": f(client, "ip"),
        "client_port": f(client, "port"),
        "target_ip": f(target, "ip"),
        "target_port": f(target, "port"),
        "request_processing_time": h[5],
        "target_processing_time": h[6],
        "response_processing_time": h[7],
        "elb_status_code": h[8],
        "target_status_code": h[9],
        "received_bytes": h[10],
        "sent_bytes": h[11],
        "request_verb": f(request, "verb"),
        "request_url": f(request, "url"),
        "request_proto": f(request, "proto"),
        "user_agent": seg(3),
        "ssl_cipher": pc.list_element(tls, 1),
        "ssl_protocol": pc.list_element(tls, 2),
        "target_group_arn": pc.list_element(tls, 3),
        "trace_id": seg(5),
        "domain_name": seg(7),
        "chosen_cert_arn": seg(9),
        "matched_rule_priority": pc.list_element(mid, 1),
        "request_creation_time": pc.list_element(mid, 2),
        "actions_executed": seg(11),
        "redirect_url": seg(13),
        "lambda_error_reason": seg(15),
        "target_port_list": seg(17),
        "target_status_code_list": seg(19),
        "classification": seg(21),
        "classification_reason": seg(23),
        "conn_trace_id": opt(has_conn, f(rest, "conn")),
        "transformed_host": opt(has_rewrite, f(rest, "th")),
        "transformed_uri": opt(has_rewrite, f(rest, "tu")),
        "request_transform_status": opt(has_rewrite, f(rest, "ts")),
    }
    return {
        name: (text[name] if kind == "string" else _number(text[name], kind))
        for name, kind in COLUMNS
    }
