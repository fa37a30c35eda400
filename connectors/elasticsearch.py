"""Elasticsearch (8.x and 9.x): what the logs say about an incident, counted by the server.

Every figure is an aggregation computed by Elasticsearch; the connector never downloads the
matching documents, so its memory does not grow with their number:

- log volume per level and error counts per service: ``terms`` × ``date_histogram`` with a
  ``fixed_interval`` adapted to the window (at most ``max_buckets`` buckets, aligned on the
  window's start with ``offset``), error levels matched case-insensitively;
- error signatures: a ``composite`` aggregation paged with ``after_key`` (``page_size`` buckets a
  page) over ``error.type`` for documents that carry one, then over the keyword form of the
  message for those that do not. Messages are folded client-side by
  :func:`connectors.signatures.normalise` (no painless needed) and merged per signature: count,
  first and last seen, services, and the same over the baseline. The bounds: at most
  ``signatures.max_distinct_messages`` distinct raw messages are read (the rest is reported as
  a warning with its document count), and at most ``signatures.max_tracked`` signatures are
  held in memory. Messages too long for the keyword sub-field (``ignore_above``), or a message
  field without one, are read as documents — at most ``signatures.max_unaggregated`` of them,
  with ``search_after`` — and folded the same way;
- impacted users: ``cardinality`` of ``user.id`` over error documents (precision threshold
  40,000: exact below that, about ±1 % above);
- change events: a configurable query (default: ``event.category`` deployment/configuration or
  deploy/rollback/config tags), read with ``search_after``;
- samples: a few error lines at the first error and at the error peak, long fields truncated.

Pagination of documents uses a point in time (PIT) and ``search_after`` on
``[timestamp, _shard_doc]``; ``from``/``size`` is never used beyond the first page.

**8.x and 9.x servers.** The official client (9.x here) sends
``Accept``/``Content-Type: application/vnd.elasticsearch+json; compatible-with=9``, which an 8.x
server refuses (``media_type_header_exception``). The connector builds its client with a
transport node class that rewrites that header on every request: plain ``application/json``
until the server's version is known, then ``compatible-with=<server major>`` for a server older
than the client (REST API compatibility mode, which 8.x serves), unchanged otherwise. The
version is read first from ``GET /`` with a plain JSON ``Accept``, then from
``GET /_nodes/_local`` (servers without the root endpoint), then from the server's own answer
to a ``compatible-with`` probe, which names the versions it accepts; ``server_major`` in the
settings overrides all this. One client package thus serves both majors, with no extra to
install.

**Concurrency.** After the version and the mapping, the parts of a collect (volume, errors,
impacted users, baseline errors, signatures, change events; the samples once the errors and
the signatures are known) run on up to ``max_concurrency`` threads sharing the one client
(thread-safe; its pool holds a connection per thread). Each part keeps its own records and
warnings, and numbers its queries inside a placeholder; they are merged in the sequential order
with the ids a sequential run gives, so the evidence does not depend on the concurrency. Parts
after a failed one stop at their next request; the error raised is the one a sequential run
would have met first. A paged scan (composite, ``search_after``) stays sequential inside its
part: each page needs the previous one's last key.

Every request body is kept in the evidence as a :class:`~pmrecon.model.QueryRecord` (index
pattern, time range, duration, size of the answers as received, shard failures); a paged scan
is one record whose ``purpose`` says how many pages it took. Shard failures and ``timed_out``
answers become warnings.
Driver errors become one-line :class:`~pmrecon.errors.ConnectorError` messages naming the
source, never a secret.
"""

from __future__ import annotations

import base64
import binascii
import concurrent.futures
import contextlib
import dataclasses
import datetime as dt
import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from elastic_transport import ApiError as TransportApiError
from elastic_transport import (
    ApiResponseMeta,
    ConnectionTimeout,
    HttpHeaders,
    SerializationError,
    TlsError,
    TransportError,
    Urllib3HttpNode,
)
from elastic_transport import (
    ConnectionError as TransportConnectionError,
)
from elastic_transport.client_utils import DEFAULT, DefaultType
from elasticsearch import Elasticsearch, UnsupportedProductError
from elasticsearch import __versionstr__ as CLIENT_VERSION

from connectors._common import error_reason, redact_url, settings_with_defaults
from connectors.base import CheckResult, CollectRequest, SourceContext
from connectors.promql import choose_step
from connectors.signatures import normalise, truncate
from pmrecon.config import Key
from pmrecon.errors import ConfigError, ConnectorError
from pmrecon.model import (
    ErrorSignature,
    Event,
    Evidence,
    Histogram,
    LogSample,
    LogSummary,
    QueryRecord,
    SourceInfo,
    Warning,
)

UTC = dt.timezone.utc
_MASK = re.compile(r"\[REDACTED:([A-Za-z0-9_-]+)\]")
CLIENT_MAJOR = int(CLIENT_VERSION.split(".")[0])
RETRY_STATUS = (429, 502, 503, 504)
DISABLED = ("", "off", "none", "false")

#: ECS names of the fields read, by config key; the first four are required.
ECS_FIELDS: dict[str, str] = {
    "timestamp": "@timestamp",
    "level": "log.level",
    "message": "message",
    "service": "service.name",
    "error_type": "error.type",
    "error_message": "error.message",
    "host": "host.name",
    "trace_id": "trace.id",
    "user_id": "user.id",
    "event_category": "event.category",
}
REQUIRED_FIELDS = ("timestamp", "level", "message", "service")
FIELD_ROLES = {
    "timestamp": "the event time",
    "level": "the log level",
    "message": "the log message",
    "service": "the service name",
    "error_type": "the error class",
    "error_message": "the error text",
    "host": "the host name",
    "trace_id": "the trace id",
    "user_id": "the user id",
    "event_category": "the event category",
}
KEYWORD_TYPES = ("keyword", "constant_keyword", "wildcard")
TEXT_TYPES = ("text", "match_only_text")
DATE_TYPES = ("date", "date_nanos")
CARDINALITY_PRECISION = 40_000  # Elasticsearch's maximum: exact counts below it

DEFAULT_CHANGE_CATEGORIES = ["deployment", "configuration", "change"]
DEFAULT_CHANGE_TAGS = ["deployment", "deploy", "rollback", "config_change", "configuration"]

SETTINGS_SCHEMA: dict[str, Any] = {
    "hosts": Key("list", ["http://127.0.0.1:9200"], "one or more node URLs (or set cloud_id)"),
    "cloud_id": Key("str", None, "Elastic Cloud deployment id (when set, hosts is ignored)"),
    "api_key": Key(
        "str", None, "API key, base64 'id:key' as Kibana shows it (use ${ENV_VAR})", secret=True
    ),
    "username": Key("str", None, "basic-auth user"),
    "password": Key("str", None, "basic-auth password (use ${ENV_VAR})", secret=True),
    "tls": {
        "ca_file": Key("file", None, "CA bundle that signed the server's certificate"),
        "cert_file": Key("file", None, "client certificate (mutual TLS)"),
        "key_file": Key("file", None, "client certificate's private key"),
        "verify": Key("bool", True, "verify the server's certificate"),
    },
    "timeout": Key("duration", 30, "limit for one request", exclusive_minimum=0),
    "retries": Key(
        "int", 2, "retries after a connection error, 429, 502, 503 or 504", minimum=0, maximum=10
    ),
    "max_concurrency": Key(
        "int", 4, "queries run at the same time (1: one after another)", minimum=1, maximum=64
    ),
    "server_major": Key(
        "int",
        None,
        "the server's major version (8, 9) when it cannot be detected (default: detected)",
        minimum=7,
        maximum=CLIENT_MAJOR,
    ),
    "index": Key("list", ["logs-*"], "index pattern(s) to search, e.g. logs-* or [app-*, nginx-*]"),
    "filter": Key("dict", None, "query DSL added to every query, e.g. {term: {env: prod}}"),
    "fields": {
        key: Key(
            "str",
            ecs if key in REQUIRED_FIELDS else None,
            f"field holding {FIELD_ROLES[key]}"
            + (
                "" if key in REQUIRED_FIELDS else f" (default: {ecs} when mapped; 'off' ignores it)"
            ),
        )
        for key, ecs in ECS_FIELDS.items()
    },
    "error_levels": Key(
        "list",
        ["error", "fatal", "critical", "crit", "err", "emerg", "emergency", "alert", "panic"],
        "levels that count as errors (case-insensitive)",
    ),
    "warning_levels": Key(
        "list", ["warn", "warning"], "levels whose lines also get signatures (case-insensitive)"
    ),
    "max_buckets": Key("int", 200, "most time buckets in a histogram", minimum=2, maximum=10_000),
    "interval": Key(
        "duration",
        None,
        "histogram bucket width (default: adapted to the window, nice units)",
        exclusive_minimum=0,
    ),
    "max_services": Key(
        "int", 50, "services shown per histogram; the rest are summed as (other)", minimum=1
    ),
    "signatures": {
        "top": Key(
            "int",
            50,
            "signatures kept in the evidence (the most frequent, new ones too)",
            minimum=1,
        ),
        "page_size": Key(
            "int", 1000, "composite aggregation buckets per request", minimum=1, maximum=10_000
        ),
        "max_distinct_messages": Key(
            "int",
            50_000,
            "distinct raw messages read to build signatures (memory/time bound)",
            minimum=1,
        ),
        "max_tracked": Key("int", 10_000, "distinct signatures held in memory", minimum=1),
        "max_unaggregated": Key(
            "int",
            10_000,
            "documents read one by one when the message has no keyword form (too long, or text only)",
            minimum=0,
        ),
        "max_length": Key("int", 200, "characters of a signature", minimum=20),
    },
    "samples": {
        "new_signatures": Key(
            "int", 3, "first line of each of the most frequent new signatures", minimum=0
        ),
        "first_errors": Key("int", 5, "error lines kept from the first error on", minimum=0),
        "peak": Key("int", 5, "error lines kept from the busiest error bucket", minimum=0),
        "max_chars": Key(
            "int", 500, "longest message kept in a sample (longer ones truncated)", minimum=20
        ),
        "max_field_chars": Key("int", 200, "longest other field kept in a sample", minimum=20),
    },
    "changes": {
        "enabled": Key("bool", True, "look for deploys, rollbacks and config changes"),
        "query": Key(
            "dict",
            None,
            "query DSL selecting change events (default: event.category deployment/configuration/change or matching tags)",
        ),
        "kind_field": Key(
            "str", "event.action", "field naming the change (deploy, rollback, config_change)"
        ),
        "version_field": Key("str", "service.version", "field holding the deployed version"),
        "tags_field": Key("str", "tags", "field of tags searched by the default query"),
        "max_events": Key("int", 200, "most change events read", minimum=0),
    },
}


# --------------------------------------------------------------------------- errors


class RequestFailed(ConnectorError):
    """One request failed; ``fatal`` when no other request can succeed (unreachable, auth, TLS)."""

    def __init__(self, message: str, kind: str, fatal: bool, status: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.fatal = fatal
        self.status = status


def _error_detail(body: Any) -> str:
    """``type: reason`` from an Elasticsearch error body (root cause and cause included)."""
    if not isinstance(body, Mapping):
        return " ".join(str(body or "").split())[:300]
    err = body.get("error")
    if isinstance(err, str):
        return err[:300]
    if not isinstance(err, Mapping):
        return json.dumps(body)[:300]
    parts = [f"{err.get('type', 'error')}: {err.get('reason', '')}".strip()]
    roots = err.get("root_cause") or []
    if roots and isinstance(roots[0], Mapping):
        root = roots[0]
        text = f"{root.get('type')}: {root.get('reason')}"
        if root.get("type") != err.get("type") or root.get("reason") != err.get("reason"):
            parts.append(text)
    failed = err.get("failed_shards") or []
    if failed and isinstance(failed[0], Mapping):
        reason = failed[0].get("reason") or {}
        if isinstance(reason, Mapping):
            cause = reason.get("caused_by") or {}
            text = f"{reason.get('type')}: {reason.get('reason')}"
            if isinstance(cause, Mapping) and cause.get("reason"):
                text += f" ({cause.get('reason')})"
            if text not in parts:
                parts.append(text)
    cause = err.get("caused_by")
    if isinstance(cause, Mapping) and cause.get("reason"):
        parts.append(f"{cause.get('type')}: {cause.get('reason')}")
    return " — ".join(p for p in parts if p)[:400]


def _major_from_media_error(detail: str) -> int | None:
    """The server major from "Accept version must be either version 8 or 7, but found 9"."""
    m = re.search(r"must be either version (\d+)", detail)
    return int(m.group(1)) if m else None


# --------------------------------------------------------------------------- transport


@dataclass
class _Compat:
    """The compatibility header the node class writes; ``major`` None: plain JSON."""

    major: int | None = None


_COMPAT_MEDIA = re.compile(r"application/vnd\.elasticsearch\+([a-z-]+);\s*compatible-with=\d+")


@dataclass
class _SizedMeta(ApiResponseMeta):
    """The transport's response metadata plus the size of the body as received.

    Elasticsearch sends chunked answers without ``Content-Length``, and the client only hands
    back the parsed body, so the node class, which still holds the raw bytes, measures them."""

    body_bytes: int | None = None


def _compat_node_class(compat: _Compat) -> type[Urllib3HttpNode]:
    """A node class that rewrites ``compatible-with=N`` to what the server accepts."""

    class CompatNode(Urllib3HttpNode):
        def perform_request(
            self,
            method: str,
            target: str,
            body: bytes | None = None,
            headers: HttpHeaders | None = None,
            request_timeout: DefaultType | float | None = DEFAULT,
        ) -> Any:
            major = compat.major
            if headers and (major is None or major < CLIENT_MAJOR):
                headers = HttpHeaders(headers)
                for name in ("accept", "content-type"):
                    value = headers.get(name)
                    if not value:
                        continue
                    if major is None or major < 8:
                        # before detection (and for 7.x): the plain media type every version takes
                        headers[name] = _COMPAT_MEDIA.sub(r"application/\1", value)
                    else:
                        headers[name] = _COMPAT_MEDIA.sub(
                            rf"application/vnd.elasticsearch+\1; compatible-with={major}", value
                        )
            resp = super().perform_request(method, target, body, headers, request_timeout)
            meta = resp.meta
            # the body as urllib3 gives it: de-chunked and, had the server compressed it, decoded
            sized = _SizedMeta(
                meta.status,
                meta.http_version,
                meta.headers,
                meta.duration,
                meta.node,
                body_bytes=len(resp.body or b""),
            )
            return resp._replace(meta=sized)

    return CompatNode


# --------------------------------------------------------------------------- fields


@dataclass
class FieldInfo:
    """A configured field as the mapping knows it: its types and the field to aggregate on."""

    key: str  # config key: "service"
    name: str  # field name: "service.name"
    types: tuple[str, ...] = ()
    agg: str | None = None  # itself, or its keyword sub-field; None: not aggregatable
    present: bool = False
    explicit: bool = True  # set in the config (else an ECS default)


@dataclass
class _SigAcc:
    count: int = 0
    first: int = 0  # epoch ms
    last: int = 0
    services: set[str] = field(default_factory=set)
    example: str | None = None
    example_at: int | None = None
    key: tuple[str, str] | None = None  # (_index, _id) of the example's document

    def add(
        self,
        n: int,
        first: int | None,
        last: int | None,
        services: list[str],
        example: str | None,
        key: tuple[str, str] | None = None,
    ) -> None:
        if n <= 0:
            return
        if first is not None and (self.count == 0 or first < self.first):
            self.first = first
        if last is not None and (self.count == 0 or last > self.last):
            self.last = last
        self.count += n
        for s in services:
            if len(self.services) < 20:
                self.services.add(s)
        if example is not None and (self.example_at is None or (first or 0) < self.example_at):
            self.example = example
            self.example_at = first
            self.key = key


@dataclass
class _SigTally:
    """Signatures merged client-side, with a bound on how many are held."""

    limit: int
    window: dict[str, _SigAcc] = field(default_factory=dict)
    baseline: dict[str, int] = field(default_factory=dict)
    dropped_window_docs: int = 0
    dropped_baseline_docs: int = 0
    refs: dict[str, str] = field(default_factory=dict)

    def add_window(
        self,
        sig: str,
        n: int,
        first: int | None,
        last: int | None,
        services: list[str],
        example: str | None,
        ref: str | None,
        key: tuple[str, str] | None = None,
    ) -> None:
        if n <= 0:
            return
        acc = self.window.get(sig)
        if acc is None:
            if len(self.window) >= self.limit:
                self.dropped_window_docs += n
                return
            acc = self.window[sig] = _SigAcc()
            if ref:
                self.refs[sig] = ref
        acc.add(n, first, last, services, example, key)

    def add_baseline(self, sig: str, n: int) -> None:
        if n <= 0:
            return
        if sig not in self.baseline and len(self.baseline) >= self.limit:
            self.dropped_baseline_docs += n
            return
        self.baseline[sig] = self.baseline.get(sig, 0) + n


# --------------------------------------------------------------------------- concurrent parts


@dataclass
class _Part:
    """One part of a collect (a few queries); ``run(warnings, done)`` gets the results of the
    parts named in ``after`` from ``done``."""

    name: str
    run: Callable[[list[Warning], dict[str, Any]], Any]
    after: tuple[str, ...] = ()


@dataclass
class _Task:
    """A part running on a worker: its own records and warnings, and ids numbered from 1 inside
    a placeholder until the parts before it are done and its first id is known."""

    index: int  # the part's place in the sequential order
    records: list[QueryRecord] = field(default_factory=list)
    warnings: list[Warning] = field(default_factory=list)
    seq: int = 0


class _Aborted(RequestFailed):
    """A part stopped because a part before it failed (a sequential run would not have got there)."""

    def __init__(self) -> None:
        super().__init__("stopped: an earlier query failed", "aborted", True)


def _resolve_ids(obj: Any, sub: Callable[[str], str]) -> Any:
    """``obj`` with ``sub`` applied to every string in it (lists, dicts and dataclasses are
    changed in place)."""
    if isinstance(obj, str):
        return sub(obj) if "\x00" in obj else obj
    if isinstance(obj, list):
        obj[:] = [_resolve_ids(x, sub) for x in obj]
        return obj
    if isinstance(obj, tuple):
        items = tuple(_resolve_ids(x, sub) for x in obj)
        return obj if all(a is b for a, b in zip(items, obj)) else type(obj)(items)
    if isinstance(obj, dict):
        for k, v in obj.items():
            obj[k] = _resolve_ids(v, sub)
        return obj
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for f in dataclasses.fields(obj):
            old = getattr(obj, f.name)
            new = _resolve_ids(old, sub)
            if new is not old:
                setattr(obj, f.name, new)
    return obj


# --------------------------------------------------------------------------- the source


class ElasticsearchSource:
    """An Elasticsearch cluster (8.x or 9.x) as a :class:`connectors.base.LogsSource`."""

    kind = "elasticsearch"

    def __init__(
        self, name: str, settings: Mapping[str, Any], context: SourceContext | None = None
    ) -> None:
        self.name = name
        self.context = context or SourceContext()
        self.settings = settings_with_defaults(
            SETTINGS_SCHEMA, dict(settings or {}), f"sources.{name}"
        )
        s = self.settings
        self.hosts = [str(h).strip().rstrip("/") for h in (s["hosts"] or []) if str(h).strip()]
        if s["cloud_id"]:
            self.hosts = []  # cloud_id wins over hosts (whose default is a local node)
        if not self.hosts and not s["cloud_id"]:
            raise ConfigError(f"sources.{name}: set hosts (node URLs) or cloud_id")
        for h in self.hosts:
            if not re.match(r"^https?://", h):
                raise ConfigError(
                    f"sources.{name}.hosts: {redact_url(h)!r} must start with http:// or https://"
                )
        cloud = str(s["cloud_id"] or "").partition(":")[0]  # the deployment's name, not secret
        self.shown_url = (
            ", ".join(redact_url(h) for h in self.hosts)
            if self.hosts
            else f"Elastic Cloud deployment {cloud!r}"
        )
        indices = s["index"] if isinstance(s["index"], list) else [s["index"]]
        self.index = ",".join(str(i).strip() for i in indices if str(i).strip())
        if not self.index:
            raise ConfigError(f"sources.{name}.index: give at least one index pattern")
        if s["filter"] is not None and not isinstance(s["filter"], Mapping):
            raise ConfigError(f"sources.{name}.filter: must be a query DSL mapping")
        self.timeout = float(s["timeout"])
        self.secrets = self._collect_secrets()
        self._compat = _Compat(int(s["server_major"]) if s["server_major"] else None)
        self._es: Elasticsearch | None = None
        self._version: str | None = None
        self._fields: dict[str, FieldInfo] | None = None
        self._queries: list[QueryRecord] = []
        self._query_seq = 0
        self._deadline: float | None = None
        self._new_keys: list[tuple[str, str]] = []
        self._silent: Any = None
        self._counts_before: dict[str, int] = {}
        # the parts of a collect run on worker threads (max_concurrency): each one's records,
        # warnings and ids live in its _Task (thread-local); the redactor's counts are shared
        self._local = threading.local()
        self._lock = threading.Lock()
        self._abort_after = 0  # parts after this index stop at their next request
        self.error_levels = [str(x).lower() for x in s["error_levels"] or []]
        self.warning_levels = [str(x).lower() for x in s["warning_levels"] or []]

    # ------------------------------------------------------------------ client

    def _collect_secrets(self) -> list[str]:
        s = self.settings
        out = [v for v in (s.get("api_key"), s.get("password")) if v]
        key = s.get("api_key")
        if key:
            try:
                decoded = base64.b64decode(str(key), validate=True).decode("utf-8")
                out.extend(p for p in decoded.split(":", 1) if len(p) >= 4)
            except (binascii.Error, UnicodeDecodeError, ValueError):
                out.extend(p for p in str(key).split(":", 1) if len(p) >= 4)
        for h in self.hosts:
            m = re.match(r"^https?://[^/@]*:([^/@]*)@", h)
            if m and m.group(1):
                out.append(m.group(1))
        return sorted(set(out), key=len, reverse=True)

    def scrub(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return re.sub(r"//[^/@\s]*:[^/@\s]*@", "//***@", text)

    def _client(self) -> Elasticsearch:
        if self._es is not None:
            return self._es
        s = self.settings
        tls = s["tls"]
        kwargs: dict[str, Any] = {
            "request_timeout": self.timeout,
            "max_retries": int(s["retries"]),
            "retry_on_status": RETRY_STATUS,
            "retry_on_timeout": False,  # a slow query repeated only adds load
            "node_class": _compat_node_class(self._compat),
            # one connection per concurrent query (urllib3 blocks for one above its pool size)
            "connections_per_node": max(10, int(s["max_concurrency"] or 1)),
        }
        if s["cloud_id"]:
            kwargs["cloud_id"] = s["cloud_id"]
        else:
            kwargs["hosts"] = self.hosts
        if s["api_key"]:
            key = str(s["api_key"])
            if ":" in key:
                key_id, _, secret = key.partition(":")
                kwargs["api_key"] = (key_id, secret)
            else:
                kwargs["api_key"] = key
        elif s["username"]:
            kwargs["basic_auth"] = (str(s["username"]), str(s["password"] or ""))
        if any(h.startswith("https://") for h in self.hosts) or s["cloud_id"]:
            kwargs["verify_certs"] = bool(tls["verify"])
            if tls["verify"] and tls["ca_file"]:
                kwargs["ca_certs"] = tls["ca_file"]
            if not tls["verify"]:
                kwargs["ssl_show_warn"] = False
            if tls["cert_file"]:
                kwargs["client_cert"] = tls["cert_file"]
            if tls["key_file"]:
                kwargs["client_key"] = tls["key_file"]
        try:
            self._es = Elasticsearch(**kwargs)
        except (ValueError, TypeError) as exc:
            raise ConfigError(
                self.scrub(f"source {self.name!r}: invalid connection settings: {exc}")
            ) from None
        return self._es

    def close(self) -> None:
        """Close the client's connections."""
        if self._es is not None:
            self._es.close()
            self._es = None

    # ------------------------------------------------------------------ requests

    def _where(self) -> str:
        return f"source {self.name!r} ({self.shown_url})"

    def _remaining(self) -> float:
        if self._deadline is None:
            return self.timeout
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise RequestFailed(
                f"{self._where()}: time limit reached before all queries ran; raise 'timeout' or shorten the window",
                "deadline",
                True,
            )
        return min(left, self.timeout)

    def _task(self) -> _Task | None:
        """The part running on this thread, None on the caller's thread."""
        task: _Task | None = getattr(self._local, "task", None)
        return task

    def _next_id(self) -> str:
        task = self._task()
        if task is not None:
            # each part numbers its own queries: no shared counter, and the final id (the
            # sequential one) is put in by _run_parts once the parts before it are done
            task.seq += 1
            return f"{self.name}:q\x00{task.index}.{task.seq}\x00"
        self._query_seq += 1
        return f"{self.name}:q{self._query_seq}"

    def _last_record(self) -> QueryRecord:
        task = self._task()
        return task.records[-1] if task is not None else self._queries[-1]

    def _record(
        self,
        purpose: str,
        query: Any,
        *,
        endpoint: str,
        window: tuple[int, int] | None = None,
        index: str | None = None,
    ) -> QueryRecord:
        rec = QueryRecord(
            id=self._next_id(),
            source=self.name,
            purpose=purpose,
            query=query,
            endpoint=endpoint,
            index=index,
            start=_ms_to_dt(window[0]) if window else None,
            end=_ms_to_dt(window[1]) if window else None,
        )
        task = self._task()
        (task.records if task is not None else self._queries).append(rec)
        return rec

    def _raw(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        context: str = "",
        record: QueryRecord | None = None,
        abortable: bool = True,
    ) -> Any:
        """One request through the official client; errors become :class:`RequestFailed`.

        ``abortable``: on a worker, not sent once a part before this one has failed."""
        task = self._task()
        if abortable and task is not None and task.index > self._abort_after:
            raise _Aborted()
        es = self._client()
        headers = {"accept": "application/json"}
        if body is not None:
            headers["content-type"] = "application/json"
        started = time.monotonic()
        timeout = self._remaining()
        try:
            resp = es.options(request_timeout=timeout).perform_request(
                method, path, params=dict(params) if params else None, headers=headers, body=body
            )
        except Exception as exc:
            failed = self._failure(exc, context, timeout)
            if record is not None:
                record.warnings.append(str(failed))
                record.duration_seconds = round(time.monotonic() - started, 4)
            raise failed from exc
        if record is not None:
            record.duration_seconds = round(
                (record.duration_seconds or 0) + time.monotonic() - started, 4
            )
            size = getattr(resp.meta, "body_bytes", None)
            if size is None:  # a node class other than ours
                length = resp.meta.headers.get("content-length")
                size = int(length) if length and str(length).isdigit() else None
            if size is not None:
                record.bytes_received = (record.bytes_received or 0) + size
        return resp.body

    def _failure(self, exc: BaseException, context: str, timeout: float) -> RequestFailed:
        where = self._where()
        ctx = f" (while {context})" if context else ""
        if isinstance(exc, RequestFailed):
            return exc
        if isinstance(exc, TlsError):
            return RequestFailed(
                self.scrub(
                    f"{where}: TLS handshake failed ({error_reason(_CauseText(exc))}); check tls.ca_file, tls.cert_file or tls.verify{ctx}"
                ),
                "tls",
                True,
            )
        if isinstance(exc, ConnectionTimeout):
            return RequestFailed(
                self.scrub(
                    f"{where}: timeout: no answer within {timeout:g}s; raise 'timeout' or shorten the window{ctx}"
                ),
                "timeout",
                True,
            )
        if isinstance(exc, TransportConnectionError):
            text = str(_CauseText(exc))
            if "timed out" in text.lower():
                return RequestFailed(
                    self.scrub(
                        f"{where}: timeout: no answer within {timeout:g}s; raise 'timeout' or shorten the window{ctx}"
                    ),
                    "timeout",
                    True,
                )
            if any(
                s in text
                for s in (
                    "NameResolutionError",
                    "Name or service not known",
                    "nodename nor servname",
                    "getaddrinfo failed",
                    "Temporary failure in name resolution",
                )
            ):
                m = re.search(r"Failed to resolve '([^']+)'", text)
                host = f" {m.group(1)!r}" if m else ""
                return RequestFailed(
                    self.scrub(f"{where}: DNS: cannot resolve host{host}; check hosts{ctx}"),
                    "dns",
                    True,
                )
            return RequestFailed(
                self.scrub(
                    f"{where}: unreachable: cannot connect ({error_reason(_CauseText(exc))}); check hosts and that Elasticsearch is running{ctx}"
                ),
                "unreachable",
                True,
            )
        if isinstance(exc, UnsupportedProductError):
            return RequestFailed(
                self.scrub(
                    f"{where}: the server is not Elasticsearch (no 'X-Elastic-Product: Elasticsearch' header); check hosts{ctx}"
                ),
                "not_elasticsearch",
                True,
            )
        if isinstance(exc, SerializationError):
            return RequestFailed(
                self.scrub(
                    f"{where}: the answer is not JSON ({_short(exc)}); check hosts (a proxy?){ctx}"
                ),
                "not_elasticsearch",
                True,
            )
        if isinstance(exc, TransportApiError):
            status = int(getattr(exc.meta, "status", 0) or 0)
            detail = _error_detail(exc.body)
            if status == 401:
                return RequestFailed(
                    self.scrub(
                        f"{where}: authentication failed (HTTP 401); check api_key or username/password{ctx}"
                    ),
                    "auth",
                    True,
                    status,
                )
            if status == 403:
                return RequestFailed(
                    self.scrub(
                        f"{where}: access denied (HTTP 403): {detail}; grant the API key or user the "
                        f"'read' and 'view_index_metadata' privileges on {self.index}{ctx}"
                    ),
                    "auth",
                    True,
                    status,
                )
            if status == 404 and "index_not_found" in detail:
                return RequestFailed(
                    self.scrub(
                        f"{where}: index pattern {self.index!r} matches no index ({detail}); check 'index'{ctx}"
                    ),
                    "no_index",
                    True,
                    status,
                )
            if status == 400 and "media_type_header_exception" in detail:
                return RequestFailed(
                    self.scrub(
                        f"{where}: the server refuses the client's API version ({detail}); "
                        f"set server_major to the server's major version{ctx}"
                    ),
                    "version",
                    True,
                    status,
                )
            if status in (400, 422):
                return RequestFailed(
                    self.scrub(f"{where}: bad query (HTTP {status}): {detail}{ctx}"),
                    "bad_query",
                    False,
                    status,
                )
            if status == 429:
                return RequestFailed(
                    self.scrub(
                        f"{where}: too many requests (HTTP 429) after {self.settings['retries']} retries: {detail}{ctx}"
                    ),
                    "busy",
                    False,
                    status,
                )
            if status in (408, 504) or "timeout" in detail.lower():
                return RequestFailed(
                    self.scrub(
                        f"{where}: timeout: the server gave up (HTTP {status}): {detail}; shorten the window{ctx}"
                    ),
                    "timeout",
                    True,
                    status,
                )
            return RequestFailed(
                self.scrub(f"{where}: server error (HTTP {status}): {detail}{ctx}"),
                "server" if status >= 500 else "http",
                False,
                status,
            )
        if isinstance(exc, TransportError):
            return RequestFailed(
                self.scrub(f"{where}: request failed ({_short(exc)}){ctx}"), "unreachable", True
            )
        return RequestFailed(
            self.scrub(f"{where}: request failed ({type(exc).__name__}: {_short(exc)}){ctx}"),
            "internal",
            True,
        )

    def _search(
        self,
        body: dict[str, Any],
        *,
        purpose: str,
        window: tuple[int, int] | None,
        warnings: list[Warning],
        record: QueryRecord | None = None,
        index: str | None = None,
    ) -> dict[str, Any]:
        """One search, recorded; shard failures and ``timed_out`` become warnings."""
        target = self.index if index is None else index
        path = f"/{quote(target, safe=',*:')}/_search" if target else "/_search"
        if record is None:
            shown = _strip_pit(body)
            record = self._record(
                purpose,
                shown,
                endpoint=path if target else f"/{quote(self.index, safe=',*:')}/_search (PIT)",
                window=window,
                index=self.index,
            )
        answer = self._raw(
            "POST",
            path,
            body=body,
            record=record,
            context=f"running query {record.id}: {purpose}",
        )
        if not isinstance(answer, Mapping):
            raise RequestFailed(
                f"{self._where()}: unexpected answer to a search: {_short(answer)}",
                "not_elasticsearch",
                True,
            )
        self._check_partial(answer, record, purpose, warnings)
        return dict(answer)

    def _check_partial(
        self, answer: Mapping[str, Any], record: QueryRecord, purpose: str, warnings: list[Warning]
    ) -> None:
        shards = answer.get("_shards") or {}
        failed = int(shards.get("failed") or 0)
        if failed:
            reasons = []
            for f in shards.get("failures") or []:
                reason = f.get("reason") or {}
                text = (
                    f"{reason.get('type')}: {reason.get('reason')}"
                    if isinstance(reason, Mapping)
                    else str(reason)
                )
                if text not in reasons:
                    reasons.append(text)
            msg = self.scrub(
                f"source {self.name!r}: partial results: {failed} of {shards.get('total')} shards failed "
                f"for {purpose} (query {record.id}): {'; '.join(reasons[:3])[:300]}"
            )
            record.warnings.append(msg)
            if not any(w.message == msg for w in warnings):
                warnings.append(Warning(self.name, msg, code="shard_failures"))
        if answer.get("timed_out"):
            msg = (
                f"source {self.name!r}: partial results: the server's search timeout cut {purpose} short "
                f"(query {record.id}); counts may be low"
            )
            record.warnings.append(msg)
            warnings.append(Warning(self.name, msg, code="timed_out"))

    # ------------------------------------------------------------------ version and mapping

    def _detect_version(self, warnings: list[Warning]) -> str | None:
        """The server's version (sets the compatibility header); see the module docstring."""
        if self._version is not None:
            return self._version
        forced = self.settings["server_major"]
        version: str | None = None
        rec = self._record("server version", "GET /", endpoint="/")
        try:
            info = self._raw("GET", "/", record=rec, context="asking the server version: GET /")
            if isinstance(info, Mapping):
                version = str((info.get("version") or {}).get("number") or "") or None
        except RequestFailed as exc:
            if exc.fatal and exc.status != 403:  # no 'monitor' privilege: ask otherwise
                raise
            rec.warnings[-1:] = [f"GET / answered HTTP {exc.status}; asking /_nodes/_local"]
            rec2 = self._record(
                "server version", "GET /_nodes/_local/version", endpoint="/_nodes/_local"
            )
            try:
                nodes = self._raw(
                    "GET",
                    "/_nodes/_local",
                    params={"filter_path": "nodes.*.version"},
                    record=rec2,
                    context="asking the server version: GET /_nodes/_local",
                )
                for n in ((nodes or {}).get("nodes") or {}).values():
                    version = str(n.get("version") or "") or None
                    break
            except RequestFailed as exc2:
                if exc2.fatal and exc2.status != 403:
                    raise
        if version is None and not forced:
            version = self._probe_major(warnings)
        if forced:
            self._compat.major = int(forced)
        elif version:
            self._compat.major = _major(version)
        self._version = version or (f"{forced}.x" if forced else None)
        if self._compat.major is None:
            self._compat.major = CLIENT_MAJOR
            warnings.append(
                Warning(
                    self.name,
                    f"source {self.name!r}: server version unknown (GET / and /_nodes/_local refused); "
                    f"assuming {CLIENT_MAJOR}.x: set server_major if queries fail",
                    code="version_unknown",
                )
            )
        return self._version

    def _probe_major(self, warnings: list[Warning]) -> str | None:
        """Ask with the client's own ``compatible-with``: an older server names what it accepts."""
        self._compat.major = CLIENT_MAJOR
        rec = self._record(
            "server version (compatibility probe)",
            {"fields": "@timestamp"},
            endpoint="/_field_caps",
            index=self.index,
        )
        try:
            self._raw(
                "GET",
                f"/{quote(self.index, safe=',*:')}/_field_caps",
                params={"fields": "@timestamp", "ignore_unavailable": "true"},
                record=rec,
                context="probing the server version",
            )
            return f"{CLIENT_MAJOR}.x"
        except RequestFailed as exc:
            if exc.kind == "version":
                major = _major_from_media_error(str(exc))
                if major:
                    return f"{major}.x"
            if exc.fatal and exc.kind != "version":
                raise
            return None
        finally:
            self._compat.major = None

    def _resolve_fields(self, warnings: list[Warning]) -> dict[str, FieldInfo]:
        """The configured fields, checked against the mapping (``_field_caps``)."""
        if self._fields is not None:
            return self._fields
        wanted: dict[str, FieldInfo] = {}
        for key, ecs in ECS_FIELDS.items():
            value = self.settings["fields"].get(key)
            if value is None:
                if key in REQUIRED_FIELDS:
                    value = ecs
                else:
                    wanted[key] = FieldInfo(key, ecs, explicit=False)
                    continue
            text = str(value).strip()
            if text.lower() in DISABLED:
                continue
            wanted[key] = FieldInfo(key, text, explicit=True)
        names = sorted({f.name for f in wanted.values()})
        asked = sorted({*names, *(f"{n}.*" for n in names)})
        path = f"/{quote(self.index, safe=',*:')}/_field_caps"
        rec = self._record(
            "field mapping (field capabilities)",
            {"fields": asked},
            endpoint=path,
            index=self.index,
        )
        caps = self._raw(
            "GET",
            path,
            params={
                "fields": ",".join(asked),
                "ignore_unavailable": "true",
                "allow_no_indices": "true",
            },
            record=rec,
            context="reading the field mapping: _field_caps",
        )
        indices = caps.get("indices") if isinstance(caps, Mapping) else None
        fields = (caps.get("fields") if isinstance(caps, Mapping) else None) or {}
        if indices is not None and not indices:
            raise RequestFailed(
                f"{self._where()}: index pattern {self.index!r} matches no index; check 'index' "
                f"(GET _cat/indices lists them)",
                "no_index",
                True,
            )
        rec.result_count = len(indices or [])
        problems: list[str] = []
        for f in wanted.values():
            entry = fields.get(f.name) or {}
            types = tuple(sorted(t for t in entry if t != "unmapped"))
            f.types = types
            f.present = bool(types)
            config_key = f"sources.{self.name}.fields.{f.key}"
            if not f.present:
                if f.explicit:
                    problems.append(
                        f"field {f.name!r} ({config_key}) is not in the mapping of {self.index!r}; "
                        f"set {config_key} to the field holding {FIELD_ROLES[f.key]}"
                        + ("" if f.key in REQUIRED_FIELDS else ", or 'off'")
                    )
                continue
            if "object" in types or "nested" in types:
                problems.append(
                    f"field {f.name!r} ({config_key}) is an object, not a value; name one of its sub-fields"
                )
                continue
            if f.key == "timestamp":
                if not set(types) <= set(DATE_TYPES):
                    problems.append(
                        f"field {f.name!r} ({config_key}) is {'/'.join(types)}, not a date; "
                        f"set {config_key} to the event time field"
                    )
                f.agg = f.name
                continue
            if any(t in TEXT_TYPES for t in types):
                subs = []
                for other, ocaps in fields.items():
                    is_sub = other.startswith(f.name + ".") and "." not in other[len(f.name) + 1 :]
                    if is_sub and any(t in KEYWORD_TYPES for t in ocaps):
                        subs.append(other)
                subs.sort(key=lambda n: (n != f.name + ".keyword", n))
                f.agg = subs[0] if subs else None
            elif all(entry[t].get("aggregatable", True) for t in types):
                f.agg = f.name
            if len(types) > 1 and not set(types) <= {*KEYWORD_TYPES, *TEXT_TYPES}:
                warnings.append(
                    Warning(
                        self.name,
                        f"source {self.name!r}: field {f.name!r} has different types across indices "
                        f"({', '.join(types)}); counts on it may miss some indices",
                        code="field_type_conflict",
                    )
                )
            if f.agg is None and f.key in ("level", "service"):
                problems.append(
                    f"field {f.name!r} ({config_key}) is {'/'.join(types)} without a keyword "
                    f"sub-field, so it cannot be counted; map it as keyword or set {config_key} "
                    f"to its keyword form"
                )
        if problems:
            raise RequestFailed(
                self.scrub(
                    f"{self._where()}: {problems[0]}"
                    + (
                        f" (and {len(problems) - 1} more field problem(s))"
                        if len(problems) > 1
                        else ""
                    )
                ),
                "field",
                True,
            )
        self._fields = {k: f for k, f in wanted.items() if f.present}
        return self._fields

    # ------------------------------------------------------------------ query parts

    def _filters(self, services: tuple[str, ...]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        if self.settings["filter"]:
            out.append(dict(self.settings["filter"]))
        if services:
            svc = self._fields_or_fail()["service"]
            out.append({"terms": {svc.agg or svc.name: list(services)}})
        return out

    def _fields_or_fail(self) -> dict[str, FieldInfo]:
        if self._fields is None:
            raise RuntimeError("fields not resolved")
        return self._fields

    def _range(self, a: int, b: int) -> dict[str, Any]:
        ts = self._fields_or_fail()["timestamp"].name
        return {"range": {ts: {"gte": a, "lt": b, "format": "epoch_millis"}}}

    def _levels_query(self, levels: list[str]) -> dict[str, Any]:
        lvl = self._fields_or_fail()["level"]
        f = lvl.agg or lvl.name
        return {
            "bool": {
                "should": [{"term": {f: {"value": x, "case_insensitive": True}}} for x in levels],
                "minimum_should_match": 1,
            }
        }

    # ------------------------------------------------------------------ collect

    def collect(self, request: CollectRequest) -> Evidence:
        """Log aggregates, signatures, samples and change events for the request's window."""
        self._queries = []
        self._query_seq = 0
        self._deadline = request.deadline
        self._version = None  # asked again: the server may have been upgraded since
        self._fields = None
        redactor = self.context.redactor
        self._counts_before = dict(redactor.counts) if redactor is not None else {}
        warnings: list[Warning] = []
        try:
            return self._collect(request, warnings)
        except RequestFailed as exc:
            raise ConnectorError(str(exc)) from exc
        finally:
            self._deadline = None

    def _collect(self, request: CollectRequest, warnings: list[Warning]) -> Evidence:
        version = self._detect_version(warnings)
        fields = self._resolve_fields(warnings)
        s = self.settings
        window = request.window
        w0, w1 = _ms(window.start), _ms(window.end)
        base = request.baseline if not request.coarse else None
        b0, b1 = (_ms(base.start), _ms(base.end)) if base is not None else (w0, w0)
        extra = self._filters(request.services)
        seconds = max(1.0, (w1 - w0) / 1000)
        max_buckets = max(2, int(s["max_buckets"]) if not request.coarse else 100)
        interval = int(s["interval"] or 0) or choose_step(seconds, 1, max_buckets + 1)
        if seconds / interval > max_buckets:
            interval = choose_step(seconds, interval, max_buckets + 1)
        interval = max(1, int(interval))

        # the parts in the order a sequential run takes them: query ids, records and warnings
        # follow this order whatever the concurrency
        parts = [
            _Part("volume", lambda w, _: self._volume(w0, w1, interval, extra, w)),
            _Part("errors", lambda w, _: self._errors(w0, w1, interval, extra, w)),
            _Part("users", lambda w, _: self._users(w0, w1, extra, w)),
        ]
        if base is not None and b1 > b0:
            parts.append(_Part("baseline", lambda w, _: self._count_errors(b0, b1, extra, w)))
        if not request.coarse:
            parts.append(
                _Part("signatures", lambda w, _: self._signatures(w0, w1, b0, b1, extra, w))
            )
            # samples start at the first error and at the peak, and show the new signatures
            parts.append(
                _Part(
                    "samples",
                    lambda w, done: self._samples(
                        w0, w1, interval, done["errors"][2], done["errors"][3], extra, w
                    ),
                    after=("errors", "signatures"),
                )
            )
        if s["changes"]["enabled"]:
            parts.append(_Part("changes", lambda w, _: self._changes(w0, w1, extra, w)))
        done = self._run_parts(parts, warnings)

        volume, total = done["volume"]
        errors_hist, error_docs, _first, _peak = done["errors"]
        users, users_ref = done["users"]
        baseline_errors = done.get("baseline")
        signatures: list[ErrorSignature] = done.get("signatures", [])
        samples: list[LogSample] = done.get("samples", [])
        events: list[Event] = done.get("changes", [])

        summary = LogSummary(
            volume_by_level=volume,
            errors_by_service=errors_hist,
            signatures=signatures,
            samples=samples,
            impacted_users=users,
            impacted_users_ref=users_ref,
            total_documents=total,
            error_documents=error_docs,
            baseline_error_documents=baseline_errors,
            baseline_seconds=(b1 - b0) / 1000 if base is not None else None,
            error_levels=list(self.error_levels),
            redactions=self._redactions_since_start(),
        )
        source = SourceInfo(
            name=self.name,
            kind=self.kind,
            url=self.shown_url,
            version=version,
            settings={
                "index": self.index,
                "client": CLIENT_VERSION,
                "compatible_with": self._compat.major,
                "interval": interval,
                "fields": {
                    k: {"field": f.name, "aggregated_on": f.agg, "types": list(f.types)}
                    for k, f in fields.items()
                },
                "error_levels": self.error_levels,
                "warning_levels": self.warning_levels,
                "filter": s["filter"],
                "services": list(request.services),
            },
            queries=list(self._queries),
        )
        return Evidence(
            window=window,
            baseline=request.baseline,
            logs=summary,
            events=events,
            sources=[source],
            warnings=warnings,
        )

    def _run_parts(self, parts: list[_Part], warnings: list[Warning]) -> dict[str, Any]:
        """Each part's result by name; up to ``max_concurrency`` parts at once, with what a
        sequential run gives: the same query ids, records and warnings in the same order, and
        on failure the exception of the first part (in that order) that failed.

        A part runs as soon as the parts it needs are done. Parts before a failed one run to
        their end (a sequential run would have run them, and one of them may fail first); parts
        after it stop at their next request. No worker is left running on return."""
        done: dict[str, Any] = {}
        workers = max(1, int(self.settings["max_concurrency"]))
        if workers == 1 or len(parts) <= 1:
            for part in parts:
                done[part.name] = part.run(warnings, done)
            return done
        tasks = [_Task(i) for i in range(len(parts))]
        place = {p.name: i for i, p in enumerate(parts)}
        needed = {name for p in parts for name in p.after}
        # what others wait for starts first (error signatures are also the longest part)
        waiting = sorted(range(len(parts)), key=lambda i: (parts[i].name not in needed, i))
        succeeded: set[int] = set()
        failed: dict[int, BaseException] = {}
        self._abort_after = len(parts)

        def run(i: int) -> Any:
            self._local.task = tasks[i]
            try:
                if i > self._abort_after:
                    raise _Aborted()
                return parts[i].run(tasks[i].warnings, done)
            except BaseException:
                with self._lock:
                    self._abort_after = min(self._abort_after, i)
                raise
            finally:
                self._local.task = None

        with concurrent.futures.ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix=f"pmrecon-{self.name}"
        ) as pool:
            running: dict[concurrent.futures.Future[Any], int] = {}
            try:
                while True:
                    for i in list(waiting):
                        if i > self._abort_after:  # a sequential run stops before it
                            waiting.remove(i)
                        elif all(place[name] in succeeded for name in parts[i].after):
                            waiting.remove(i)
                            running[pool.submit(run, i)] = i
                    if not running:
                        break
                    finished, _ = concurrent.futures.wait(
                        running, return_when=concurrent.futures.FIRST_COMPLETED
                    )
                    for fut in finished:
                        i = running.pop(fut)
                        exc = fut.exception()
                        if exc is None:
                            done[parts[i].name] = fut.result()
                            succeeded.add(i)
                        else:
                            failed[i] = exc
            except BaseException:
                self._abort_after = -1  # interrupted: every worker stops at its next request
                for fut in running:
                    fut.cancel()
                raise

        # the parts before the first failure all succeeded: the ids up to it are known
        last = min(failed) if failed else len(parts) - 1
        first_id = [0] * len(parts)
        seq = self._query_seq
        for task in tasks[: last + 1]:
            first_id[task.index] = seq
            seq += task.seq
        self._query_seq = seq
        token = re.compile(re.escape(f"{self.name}:q") + "\x00" + r"(\d+)\.(\d+)" + "\x00")

        def sub(text: str) -> str:
            return token.sub(
                lambda m: f"{self.name}:q{first_id[int(m.group(1))] + int(m.group(2))}", text
            )

        for task in tasks[: last + 1]:
            for rec in task.records:
                rec.id = sub(rec.id)
                rec.warnings = [sub(w) for w in rec.warnings]
                self._queries.append(rec)
            warnings.extend(_resolve_ids(task.warnings, sub))
        if failed:
            exc = failed[last]
            if isinstance(exc, RequestFailed) and "\x00" in str(exc):
                # its message names the query that failed: with the sequential run's id
                named = RequestFailed(sub(str(exc)), exc.kind, exc.fatal, exc.status)
                raise named.with_traceback(exc.__traceback__) from exc.__cause__
            raise exc
        return {name: _resolve_ids(result, sub) for name, result in done.items()}

    # ------------------------------------------------------------------ histograms

    def _histogram_agg(self, w0: int, w1: int, interval: int) -> dict[str, Any]:
        ts = self._fields_or_fail()["timestamp"].name
        step = interval * 1000
        offset = w0 % step
        return {
            "date_histogram": {
                "field": ts,
                "fixed_interval": f"{interval}s",
                "offset": f"+{offset}ms" if offset else "0ms",
                "min_doc_count": 0,
                "extended_bounds": {"min": w0, "max": w1 - 1},
            }
        }

    @staticmethod
    def _grid(w0: int, w1: int, interval: int) -> list[int]:
        step = interval * 1000
        return list(range(w0, w1, step))

    def _fill(
        self, grid: list[int], buckets: list[Mapping[str, Any]], counts: list[int] | None = None
    ) -> list[int]:
        out = counts if counts is not None else [0] * len(grid)
        if not grid:
            return out
        step = (grid[1] - grid[0]) if len(grid) > 1 else 1
        for b in buckets:
            key = int(b.get("key") or 0)
            i = (key - grid[0]) // step
            if 0 <= i < len(out) and (len(grid) > 1 or key == grid[0]):
                out[i] += int(b.get("doc_count") or 0)
        return out

    def _volume(
        self, w0: int, w1: int, interval: int, extra: list[dict[str, Any]], warnings: list[Warning]
    ) -> tuple[Histogram, int]:
        f = self._fields_or_fail()
        lvl = f["level"].agg or f["level"].name
        body = {
            "size": 0,
            "track_total_hits": True,
            "query": {"bool": {"filter": [self._range(w0, w1), *extra]}},
            "aggs": {
                "levels": {
                    "terms": {"field": lvl, "size": 100, "missing": "(none)"},
                    "aggs": {"t": self._histogram_agg(w0, w1, interval)},
                }
            },
        }
        ans = self._search(
            body, purpose="log volume per level over time", window=(w0, w1), warnings=warnings
        )
        rec = self._last_record()
        grid = self._grid(w0, w1, interval)
        counts: dict[str, list[int]] = {}
        agg = (ans.get("aggregations") or {}).get("levels") or {}
        for b in agg.get("buckets") or []:
            key = str(b.get("key_as_string") or b.get("key")).lower()
            counts[key] = self._fill(grid, (b.get("t") or {}).get("buckets") or [], counts.get(key))
        if agg.get("sum_other_doc_count"):
            warnings.append(
                Warning(
                    self.name,
                    f"source {self.name!r}: more than 100 distinct levels; "
                    f"{agg['sum_other_doc_count']} documents of rarer levels are not in the level histogram",
                    code="too_many_levels",
                )
            )
        total = _total(ans)
        rec.result_count = total
        return (
            Histogram(
                float(interval),
                [ms / 1000 for ms in grid],
                dict(sorted(counts.items())),
                rec.id,
            ),
            total,
        )

    def _errors(
        self, w0: int, w1: int, interval: int, extra: list[dict[str, Any]], warnings: list[Warning]
    ) -> tuple[Histogram, int, int | None, int | None]:
        f = self._fields_or_fail()
        svc = f["service"].agg or f["service"].name
        ts = f["timestamp"].name
        size = max(1, int(self.settings["max_services"]))
        body = {
            "size": 0,
            "track_total_hits": True,
            "query": {
                "bool": {
                    "filter": [self._range(w0, w1), self._levels_query(self.error_levels), *extra]
                }
            },
            "aggs": {
                "services": {
                    "terms": {"field": svc, "size": size, "missing": "(none)"},
                    "aggs": {"t": self._histogram_agg(w0, w1, interval)},
                },
                "t": self._histogram_agg(w0, w1, interval),
                "first": {"min": {"field": ts}},
            },
        }
        ans = self._search(
            body, purpose="error logs per service over time", window=(w0, w1), warnings=warnings
        )
        rec = self._last_record()
        aggs = ans.get("aggregations") or {}
        grid = self._grid(w0, w1, interval)
        counts: dict[str, list[int]] = {}
        for b in (aggs.get("services") or {}).get("buckets") or []:
            key = str(b.get("key"))
            counts[key] = self._fill(grid, (b.get("t") or {}).get("buckets") or [])
        all_errors = self._fill(grid, (aggs.get("t") or {}).get("buckets") or [])
        if (aggs.get("services") or {}).get("sum_other_doc_count"):
            other = [a - sum(c[i] for c in counts.values()) for i, a in enumerate(all_errors)]
            counts["(other)"] = [max(0, x) for x in other]
            warnings.append(
                Warning(
                    self.name,
                    f"source {self.name!r}: errors come from more than {size} services; the rest are "
                    f"summed as '(other)' (raise max_services)",
                    code="too_many_services",
                )
            )
        total = _total(ans)
        rec.result_count = total
        first = (aggs.get("first") or {}).get("value")
        peak = None
        if any(all_errors):
            i = max(range(len(all_errors)), key=lambda j: (all_errors[j], -j))
            peak = grid[i]
        return (
            Histogram(
                float(interval), [ms / 1000 for ms in grid], dict(sorted(counts.items())), rec.id
            ),
            total,
            int(first) if first is not None else None,
            peak,
        )

    def _users(
        self, w0: int, w1: int, extra: list[dict[str, Any]], warnings: list[Warning]
    ) -> tuple[int | None, str | None]:
        user = self._fields_or_fail().get("user_id")
        if user is None:
            return None, None
        if user.agg is None:
            warnings.append(
                Warning(
                    self.name,
                    f"source {self.name!r}: field {user.name!r} (fields.user_id) has no keyword form; "
                    f"impacted users are not counted",
                    code="users_not_counted",
                )
            )
            return None, None
        body = {
            "size": 0,
            "track_total_hits": True,
            "query": {
                "bool": {
                    "filter": [self._range(w0, w1), self._levels_query(self.error_levels), *extra]
                }
            },
            "aggs": {
                "users": {
                    "cardinality": {
                        "field": user.agg,
                        "precision_threshold": CARDINALITY_PRECISION,
                    }
                }
            },
        }
        try:
            ans = self._search(
                body,
                purpose="distinct users with an error (cardinality)",
                window=(w0, w1),
                warnings=warnings,
            )
        except RequestFailed as exc:
            if exc.fatal:
                raise
            warnings.append(Warning(self.name, str(exc), code="users_failed"))
            return None, None
        rec = self._last_record()
        value = ((ans.get("aggregations") or {}).get("users") or {}).get("value")
        rec.result_count = int(value) if value is not None else None
        return (int(value) if value is not None else None), rec.id

    def _count_errors(
        self, a: int, b: int, extra: list[dict[str, Any]], warnings: list[Warning]
    ) -> int | None:
        body = {
            "size": 0,
            "track_total_hits": True,
            "query": {
                "bool": {
                    "filter": [self._range(a, b), self._levels_query(self.error_levels), *extra]
                }
            },
        }
        try:
            ans = self._search(
                body, purpose="error logs in the baseline", window=(a, b), warnings=warnings
            )
        except RequestFailed as exc:
            if exc.fatal:
                raise
            warnings.append(Warning(self.name, str(exc), code="baseline_failed"))
            return None
        total = _total(ans)
        self._last_record().result_count = total
        return total

    # ------------------------------------------------------------------ signatures

    def _signatures(
        self,
        w0: int,
        w1: int,
        b0: int,
        b1: int,
        extra: list[dict[str, Any]],
        warnings: list[Warning],
    ) -> list[ErrorSignature]:
        f = self._fields_or_fail()
        cfg = self.settings["signatures"]
        tally = _SigTally(limit=max(1, int(cfg["max_tracked"])))
        budget = [max(1, int(cfg["max_distinct_messages"]))]
        levels = [*self.error_levels, *self.warning_levels]
        periods = [self._range(w0, w1)]
        if b1 > b0:
            periods.append(self._range(b0, b1))
        base_query: list[dict[str, Any]] = [
            {"bool": {"should": periods, "minimum_should_match": 1}},
            self._levels_query(levels),
            *extra,
        ]
        err_type = f.get("error_type")
        msg = f["message"]
        max_len = int(cfg["max_length"])
        try:
            if err_type is not None and err_type.agg:
                self._composite_scan(
                    "error signatures by error type",
                    err_type.agg,
                    [*base_query, {"exists": {"field": err_type.name}}],
                    w0,
                    w1,
                    b0,
                    b1,
                    tally,
                    budget,
                    lambda key: (
                        truncate(" ".join(self._prefold(str(key)).split()), max_len) or "(empty)"
                    ),
                    warnings,
                )
            no_type: list[dict[str, Any]] = []
            if err_type is not None:
                no_type = [{"bool": {"must_not": [{"exists": {"field": err_type.name}}]}}]
            unkeyed = 0
            if msg.agg:
                unkeyed = self._composite_scan(
                    "error signatures by normalised message",
                    msg.agg,
                    [*base_query, *no_type],
                    w0,
                    w1,
                    b0,
                    b1,
                    tally,
                    budget,
                    lambda key: normalise(self._prefold(str(key)), max_len),
                    warnings,
                    key_is_message=True,
                )
            if unkeyed or not msg.agg:
                must_not = [{"exists": {"field": msg.agg}}] if msg.agg else []
                self._unaggregated_scan(
                    [
                        *base_query,
                        *no_type,
                        *([{"bool": {"must_not": must_not}}] if must_not else []),
                    ],
                    w0,
                    w1,
                    b0,
                    b1,
                    tally,
                    max_len,
                    warnings,
                    reason=(
                        f"messages longer than the keyword sub-field {msg.agg!r} keeps (ignore_above)"
                        if msg.agg
                        else f"field {msg.name!r} has no keyword sub-field"
                    ),
                )
        except RequestFailed as exc:
            if exc.fatal:
                raise
            warnings.append(
                Warning(
                    self.name,
                    f"{exc}; error signatures are incomplete",
                    code="signatures_failed",
                )
            )
        if tally.dropped_window_docs or tally.dropped_baseline_docs:
            warnings.append(
                Warning(
                    self.name,
                    f"source {self.name!r}: more than {tally.limit} distinct signatures: "
                    f"{tally.dropped_window_docs} window and {tally.dropped_baseline_docs} baseline "
                    f"error lines were not attributed (raise signatures.max_tracked)",
                    code="signatures_truncated",
                )
            )
        return self._pick_signatures(tally, has_baseline=b1 > b0)

    def _composite_scan(
        self,
        purpose: str,
        agg_field: str,
        query: list[dict[str, Any]],
        w0: int,
        w1: int,
        b0: int,
        b1: int,
        tally: _SigTally,
        budget: list[int],
        fold: Any,
        warnings: list[Warning],
        key_is_message: bool = False,
    ) -> int:
        """Page a composite aggregation over ``agg_field``; returns the window+baseline count of
        documents without a value (the missing bucket).

        ``key_is_message``: the bucket key is the raw message itself, so the example document
        is asked for without its ``_source`` (a smaller page)."""
        f = self._fields_or_fail()
        ts = f["timestamp"].name
        svc = f["service"].agg or f["service"].name
        msg = f["message"].name
        page = max(1, min(int(self.settings["signatures"]["page_size"]), 10_000))
        body: dict[str, Any] = {
            "size": 0,
            "query": {"bool": {"filter": query}},
            "aggs": {
                "sig": {
                    "composite": {
                        "size": page,
                        "sources": [{"k": {"terms": {"field": agg_field, "missing_bucket": True}}}],
                    },
                    "aggs": {
                        "w": {
                            "filter": self._range(w0, w1),
                            "aggs": {
                                "first": {"min": {"field": ts}},
                                "last": {"max": {"field": ts}},
                                "services": {"terms": {"field": svc, "size": 10}},
                                "example": {
                                    "top_hits": {
                                        "size": 1,
                                        "sort": [{ts: {"order": "asc"}}],
                                        "_source": False if key_is_message else {"includes": [msg]},
                                    }
                                },
                            },
                        },
                        "b": {"filter": self._range(b0, b1) if b1 > b0 else {"match_none": {}}},
                    },
                }
            },
        }
        rec = self._record(
            purpose,
            body,
            endpoint=f"/{self.index}/_search",
            window=(b0 if b1 > b0 else w0, w1),
            index=self.index,
        )
        pages = 0
        buckets_read = 0
        missing = 0
        after: Any = None
        stopped_docs = 0
        while True:
            if after is not None:
                body["aggs"]["sig"]["composite"]["after"] = after
            ans = self._search(body, purpose=purpose, window=None, warnings=warnings, record=rec)
            pages += 1
            agg = (ans.get("aggregations") or {}).get("sig") or {}
            buckets = agg.get("buckets") or []
            for b in buckets:
                key = (b.get("key") or {}).get("k")
                wb = b.get("w") or {}
                bb = b.get("b") or {}
                if key is None:
                    missing += int(wb.get("doc_count") or 0) + int(bb.get("doc_count") or 0)
                    continue
                if budget[0] <= 0:
                    stopped_docs += int(wb.get("doc_count") or 0)
                    continue
                budget[0] -= 1
                buckets_read += 1
                sig = fold(key)
                n = int(wb.get("doc_count") or 0)
                if n:
                    hits = ((wb.get("example") or {}).get("hits") or {}).get("hits") or []
                    example = (
                        key
                        if key_is_message
                        else _get_path(hits[0].get("_source") or {}, msg)
                        if hits
                        else None
                    )
                    doc = (str(hits[0].get("_index")), str(hits[0].get("_id"))) if hits else None
                    tally.add_window(
                        sig,
                        n,
                        _int((wb.get("first") or {}).get("value")),
                        _int((wb.get("last") or {}).get("value")),
                        [
                            str(x.get("key"))
                            for x in (wb.get("services") or {}).get("buckets") or []
                        ],
                        str(example) if example is not None else None,
                        rec.id,
                        doc,
                    )
                tally.add_baseline(sig, int(bb.get("doc_count") or 0))
            after = agg.get("after_key")
            if not buckets or after is None or len(buckets) < page:
                break
            if budget[0] <= 0:
                # count what the bound leaves out without reading it bucket by bucket
                stopped_docs += self._count_after(query, agg_field, after, w0, w1, warnings)
                break
        body["aggs"]["sig"]["composite"].pop("after", None)
        rec.query = body
        rec.purpose = f"{purpose} (composite aggregation, {pages} page(s) of up to {page} buckets)"
        rec.result_count = buckets_read
        if stopped_docs:
            warnings.append(
                Warning(
                    self.name,
                    f"source {self.name!r}: {purpose}: stopped after "
                    f"{self.settings['signatures']['max_distinct_messages']} distinct values; "
                    f"{stopped_docs} error lines in the window are not in any signature "
                    f"(raise signatures.max_distinct_messages)",
                    code="signatures_truncated",
                )
            )
        return missing

    def _count_after(
        self,
        query: list[dict[str, Any]],
        agg_field: str,
        after: Mapping[str, Any],
        w0: int,
        w1: int,
        warnings: list[Warning],
    ) -> int:
        value = after.get("k")
        if value is None:
            return 0

        def body(after_value: Any) -> dict[str, Any]:
            past = {"range": {agg_field: {"gt": after_value}}}
            return {
                "size": 0,
                "track_total_hits": True,
                "query": {"bool": {"filter": [*query, self._range(w0, w1), past]}},
            }

        purpose = "error lines beyond the signature bound"
        # the evidence keeps the key redacted: it is a raw log message
        rec = self._record(
            purpose,
            body(self._prefold(str(value))),
            endpoint=f"/{self.index}/_search",
            window=(w0, w1),
            index=self.index,
        )
        ans = self._search(body(value), purpose=purpose, window=None, warnings=warnings, record=rec)
        rec.result_count = _total(ans)
        return rec.result_count

    def _unaggregated_scan(
        self,
        query: list[dict[str, Any]],
        w0: int,
        w1: int,
        b0: int,
        b1: int,
        tally: _SigTally,
        max_len: int,
        warnings: list[Warning],
        reason: str,
    ) -> None:
        f = self._fields_or_fail()
        msg, ts = f["message"].name, f["timestamp"].name
        svc = f["service"].name
        limit = max(0, int(self.settings["signatures"]["max_unaggregated"]))
        seen = 0
        rec_holder: list[QueryRecord] = []
        for hit in self._iter_hits(
            query,
            [msg, ts, svc],
            limit,
            purpose=f"error signatures of unaggregatable messages ({reason})",
            window=(b0 if b1 > b0 else w0, w1),
            warnings=warnings,
            record_out=rec_holder,
        ):
            seen += 1
            src = hit.get("_source") or {}
            at = _sort_ms(hit)
            text = _get_path(src, msg)
            sig = normalise(self._prefold(str(text or "")), max_len)
            if at is not None and w0 <= at < w1:
                service = _get_path(src, svc)
                tally.add_window(
                    sig,
                    1,
                    at,
                    at,
                    [str(service)] if service is not None else [],
                    str(text) if text is not None else None,
                    rec_holder[0].id if rec_holder else None,
                    (str(hit.get("_index")), str(hit.get("_id"))),
                )
            elif at is not None and b0 <= at < b1:
                tally.add_baseline(sig, 1)
        rec = rec_holder[0] if rec_holder else None
        total = rec.result_count if rec is not None else None
        if total is not None and total > seen:
            warnings.append(
                Warning(
                    self.name,
                    f"source {self.name!r}: {total} error lines have {reason}; only the first "
                    f"{seen} were read for signatures (raise signatures.max_unaggregated)",
                    code="signatures_truncated",
                )
            )

    def _pick_signatures(self, tally: _SigTally, has_baseline: bool) -> list[ErrorSignature]:
        top = max(1, int(self.settings["signatures"]["top"]))
        redact = self._redact
        items = sorted(tally.window.items(), key=lambda kv: (-kv[1].count, kv[0]))
        kept = items[:top]
        names = {k for k, _ in kept}
        new_extra = [kv for kv in items[top:] if has_baseline and kv[0] not in tally.baseline][
            : max(1, top // 2)
        ]
        out = []
        self._new_keys = [
            acc.key
            for sig, acc in kept
            if has_baseline and acc.key is not None and sig not in tally.baseline
        ]
        for sig, acc in kept + [kv for kv in new_extra if kv[0] not in names]:
            base = tally.baseline.get(sig, 0)
            redactor = self.context.redactor
            if redactor is not None and self._silent is not None:
                with self._lock:
                    for m in _MASK.finditer(sig):
                        redactor.counts[m.group(1)] += 1
            out.append(
                ErrorSignature(
                    signature=redact(sig),
                    count=acc.count,
                    first_seen=_ms_to_dt(acc.first),
                    last_seen=_ms_to_dt(acc.last),
                    services=sorted(acc.services),
                    new_since_baseline=has_baseline and base == 0,
                    baseline_count=base,
                    example=redact(
                        truncate(acc.example, int(self.settings["samples"]["max_chars"]))
                    )
                    if acc.example
                    else None,
                    query_ref=tally.refs.get(sig),
                )
            )
        return out

    def _redactions_since_start(self) -> dict[str, int]:
        """Values masked by this collect (the redactor is shared by the whole build)."""
        redactor = self.context.redactor
        if redactor is None:
            return {}
        out = {
            str(k): int(v) - int(self._counts_before.get(k, 0))
            for k, v in dict(redactor.counts).items()
        }
        return {k: v for k, v in sorted(out.items()) if v > 0}

    def _prefold(self, text: str) -> str:
        """Redaction before folding, so that signatures merge over masked values; not counted
        (the kept signatures' masks are counted once, in :meth:`_pick_signatures`)."""
        redactor = self.context.redactor
        if redactor is None or not text:
            return text
        with self._lock:
            if self._silent is None:
                try:
                    self._silent = dataclasses.replace(redactor, counts=Counter())
                except TypeError:  # not the dataclass Redactor: redact without a silent copy
                    return str(redactor.redact(text))
        return str(self._silent.redact(text))

    def _redact(self, text: str) -> str:
        redactor = self.context.redactor
        if redactor is None or not text:
            return text
        with self._lock:  # its counts are shared by the parts running at once
            return str(redactor.redact(text))

    # ------------------------------------------------------------------ documents

    def _iter_hits(
        self,
        query: list[dict[str, Any]],
        source_fields: list[str],
        limit: int,
        *,
        purpose: str,
        window: tuple[int, int],
        warnings: list[Warning],
        record_out: list[QueryRecord] | None = None,
        page_size: int = 500,
    ) -> Iterator[dict[str, Any]]:
        """Up to ``limit`` hits sorted by time: one page, or a PIT with ``search_after``."""
        if limit <= 0:
            return
        ts = self._fields_or_fail()["timestamp"].name
        size = min(limit, page_size)
        body: dict[str, Any] = {
            "size": size,
            "track_total_hits": True,
            "query": {"bool": {"filter": query}},
            "sort": [{ts: {"order": "asc", "format": "epoch_millis"}}],
            "_source": {"includes": source_fields},
        }
        rec = self._record(
            purpose, dict(body), endpoint=f"/{self.index}/_search", window=window, index=self.index
        )
        if record_out is not None:
            record_out.append(rec)
        if limit <= page_size:
            ans = self._search(body, purpose=purpose, window=None, warnings=warnings, record=rec)
            rec.result_count = _total(ans)
            yield from ((ans.get("hits") or {}).get("hits") or [])[:limit]
            return
        pit_id = self._open_pit(rec)
        body["sort"].append({"_shard_doc": "asc"})
        rec.query = _strip_pit({**body, "pit": {"id": "<pit>", "keep_alive": "1m"}})
        rec.purpose = f"{purpose} (search_after over a point in time)"
        served = 0
        pages = 0
        try:
            while served < limit:
                body["size"] = min(page_size, limit - served)
                body["pit"] = {"id": pit_id, "keep_alive": "1m"}
                ans = self._search(
                    body, purpose=purpose, window=None, warnings=warnings, record=rec, index=""
                )
                pages += 1
                if pages == 1:
                    rec.result_count = _total(ans)
                    body["track_total_hits"] = False
                pit_id = ans.get("pit_id") or pit_id
                hits = (ans.get("hits") or {}).get("hits") or []
                for h in hits:
                    served += 1
                    yield h
                if len(hits) < body["size"]:
                    break
                body["search_after"] = hits[-1].get("sort")
        finally:
            self._close_pit(pit_id, rec)
            rec.purpose = f"{purpose} (search_after over a point in time, {pages} page(s))"

    def _open_pit(self, rec: QueryRecord) -> str:
        ans = self._raw(
            "POST",
            f"/{quote(self.index, safe=',*:')}/_pit",
            params={"keep_alive": "1m", "ignore_unavailable": "true"},
            record=rec,
            context="opening a point in time",
        )
        pit = ans.get("id") if isinstance(ans, Mapping) else None
        if not pit:
            raise RequestFailed(
                f"{self._where()}: no point in time id in the answer", "bad_query", False
            )
        return str(pit)

    def _close_pit(self, pit_id: str, rec: QueryRecord) -> None:
        # a point in time left open expires by itself after keep_alive
        with contextlib.suppress(RequestFailed):
            self._raw(
                "DELETE",
                "/_pit",
                body={"id": pit_id},
                record=rec,
                context="closing a point in time",
                abortable=False,  # even when stopped: it frees the server's resources at once
            )

    def _samples(
        self,
        w0: int,
        w1: int,
        interval: int,
        first_ms: int | None,
        peak_ms: int | None,
        extra: list[dict[str, Any]],
        warnings: list[Warning],
    ) -> list[LogSample]:
        cfg = self.settings["samples"]
        if first_ms is None:
            return []
        out: list[LogSample] = []
        seen: set[tuple[str | None, str | None]] = set()
        errors = self._levels_query(self.error_levels)
        plans: list[tuple[str, int, int, list[dict[str, Any]], int]] = []
        # the first line of each new signature (where the incident's own errors begin), found
        # by document id: no log content goes into a query, so none into the evidence either
        docs = self._new_keys[: max(0, int(cfg["new_signatures"]))]
        if docs:
            by_id = [
                {"bool": {"filter": [{"term": {"_index": index}}, {"ids": {"values": [doc_id]}}]}}
                for index, doc_id in docs
            ]
            plans.append(
                (
                    "new_signature",
                    w0,
                    w1,
                    [{"bool": {"should": by_id, "minimum_should_match": 1}}],
                    len(docs),
                )
            )
        plans.append(("first_error", first_ms, w1, [errors], int(cfg["first_errors"])))
        if peak_ms is not None:
            end = min(w1, peak_ms + interval * 1000)
            plans.append(("peak", peak_ms, end, [errors], int(cfg["peak"])))
        for reason, a, b, query, n in plans:
            if n <= 0:
                continue
            recs: list[QueryRecord] = []
            try:
                for hit in self._iter_hits(
                    [self._range(a, b), *query, *extra],
                    self._sample_fields(),
                    n,
                    purpose=f"sample log lines ({reason.replace('_', ' ')})",
                    window=(a, b),
                    warnings=warnings,
                    record_out=recs,
                ):
                    key = (hit.get("_index"), hit.get("_id"))
                    if key in seen:
                        continue
                    seen.add(key)
                    out.append(self._to_sample(hit, reason, recs[0].id))
            except RequestFailed as exc:
                if exc.fatal:
                    raise
                warnings.append(Warning(self.name, str(exc), code="samples_failed"))
        return out

    def _sample_fields(self) -> list[str]:
        f = self._fields_or_fail()
        keys = (
            "timestamp",
            "level",
            "message",
            "service",
            "error_type",
            "error_message",
            "host",
            "trace_id",
        )
        return [f[k].name for k in keys if k in f]

    def _to_sample(self, hit: Mapping[str, Any], reason: str, ref: str) -> LogSample:
        f = self._fields_or_fail()
        src = hit.get("_source") or {}
        cfg = self.settings["samples"]
        at = _sort_ms(hit)

        def get(key: str) -> str | None:
            info = f.get(key)
            if info is None:
                return None
            v = _get_path(src, info.name)
            return None if v is None else str(v)

        extras: dict[str, str] = {}
        for key in ("error_type", "error_message", "host", "trace_id"):
            v = get(key)
            if v is not None:
                extras[f[key].name] = self._redact(truncate(v, int(cfg["max_field_chars"])))
        return LogSample(
            timestamp=_ms_to_dt(at if at is not None else 0),
            level=get("level"),
            service=get("service"),
            message=self._redact(truncate(get("message") or "", int(cfg["max_chars"]))),
            fields=extras,
            reason=reason,
            query_ref=ref,
        )

    # ------------------------------------------------------------------ change events

    def _change_query(self) -> dict[str, Any]:
        cfg = self.settings["changes"]
        if cfg["query"]:
            return dict(cfg["query"])
        f = self._fields_or_fail()
        should: list[dict[str, Any]] = []
        cat = f.get("event_category")
        if cat is not None:
            should.append({"terms": {cat.agg or cat.name: DEFAULT_CHANGE_CATEGORIES}})
        if cfg["tags_field"]:
            should.append({"terms": {str(cfg["tags_field"]): DEFAULT_CHANGE_TAGS}})
        return {"bool": {"should": should or [{"match_none": {}}], "minimum_should_match": 1}}

    def _changes(
        self, w0: int, w1: int, extra: list[dict[str, Any]], warnings: list[Warning]
    ) -> list[Event]:
        cfg = self.settings["changes"]
        f = self._fields_or_fail()
        kind_field = str(cfg["kind_field"] or "")
        version_field = str(cfg["version_field"] or "")
        tags_field = str(cfg["tags_field"] or "")
        wanted = [f["message"].name, f["service"].name, f["timestamp"].name]
        wanted += [x for x in (kind_field, version_field, tags_field) if x]
        limit = max(0, int(cfg["max_events"]))
        out: list[Event] = []
        rec_holder: list[QueryRecord] = []
        try:
            for hit in self._iter_hits(
                [self._range(w0, w1), self._change_query(), *extra],
                wanted,
                limit,
                purpose="change events (deploys, rollbacks, config changes)",
                window=(w0, w1),
                warnings=warnings,
                record_out=rec_holder,
            ):
                src = hit.get("_source") or {}
                at = _sort_ms(hit)
                if at is None:
                    continue
                action = _get_path(src, kind_field) if kind_field else None
                tags = _get_path(src, tags_field) if tags_field else None
                message = str(_get_path(src, f["message"].name) or "")
                kind = _change_kind(action, tags, message)
                labels: dict[str, str] = {}
                service = _get_path(src, f["service"].name)
                if service is not None:
                    labels["service"] = str(service)
                version = _get_path(src, version_field) if version_field else None
                if version is not None:
                    labels["version"] = str(version)
                if action is not None:
                    labels["action"] = str(action)
                text = message or f"{kind} {labels.get('service', '')}".strip()
                out.append(
                    Event(
                        at=_ms_to_dt(at),
                        kind=kind,
                        source=self.name,
                        text=self._redact(
                            truncate(text, int(self.settings["samples"]["max_chars"]))
                        ),
                        ref=rec_holder[0].id if rec_holder else None,
                        labels=labels,
                    )
                )
        except RequestFailed as exc:
            if exc.fatal:
                raise
            warnings.append(
                Warning(self.name, f"{exc}; change events are missing", code="changes_failed")
            )
            return out
        rec = rec_holder[0] if rec_holder else None
        if rec is not None and rec.result_count is not None and rec.result_count > len(out):
            warnings.append(
                Warning(
                    self.name,
                    f"source {self.name!r}: {rec.result_count} change events in the window; only the "
                    f"first {len(out)} were read (raise changes.max_events)",
                    code="changes_truncated",
                )
            )
        return out

    # ------------------------------------------------------------------ check

    def check(self) -> list[CheckResult]:
        """Reachability, authentication, version, index pattern, fields, recent documents."""
        self._queries = []
        self._deadline = None
        self._version = None
        self._fields = None
        warnings: list[Warning] = []
        out: list[CheckResult] = []
        url = self.shown_url
        try:
            version = self._detect_version(warnings)
        except RequestFailed as exc:
            return self._check_failure(exc)
        out.append(CheckResult(self.name, "reachable", True, f"{url} answers"))
        out.append(CheckResult(self.name, "authenticated", True, "requests accepted"))
        major = self._compat.major
        ok = major in (8, 9) or (major is not None and major > 9)
        out.append(
            CheckResult(
                self.name,
                "version",
                ok,
                f"Elasticsearch {version or 'unknown'} (client {CLIENT_VERSION}, compatible-with={major})",
                "" if ok else "pmrecon supports Elasticsearch 8.x and 9.x",
            )
        )
        try:
            fields = self._resolve_fields(warnings)
        except RequestFailed as exc:
            ok_index = exc.kind != "no_index"
            out.append(
                CheckResult(
                    self.name,
                    f"index {self.index}",
                    ok_index,
                    "matches" if ok_index else str(exc),
                    "" if ok_index else "check 'index' (GET _cat/indices lists the indices)",
                )
            )
            if exc.kind == "field" or ok_index:
                out.append(CheckResult(self.name, "fields", False, str(exc), "see the message"))
            return out
        count = self._queries[-1].result_count
        out.append(
            CheckResult(self.name, f"index {self.index}", True, f"matches {count} index(es)")
        )
        for key in ECS_FIELDS:
            info = fields.get(key)
            configured = self.settings["fields"].get(key)
            if info is None:
                if configured is not None and str(configured).strip().lower() in DISABLED:
                    continue
                out.append(
                    CheckResult(
                        self.name,
                        f"field {key}",
                        True,
                        f"{ECS_FIELDS[key]} not mapped: not used",
                        f"set fields.{key} if another field holds {FIELD_ROLES[key]}",
                    )
                )
                continue
            detail = f"{info.name} ({'/'.join(info.types)})"
            if info.agg and info.agg != info.name:
                detail += f", counted on {info.agg}"
            out.append(CheckResult(self.name, f"field {key}", True, detail))
        now = self.context.now or dt.datetime.now(UTC)
        end = _ms(now)
        try:
            ans = self._search(
                {
                    "size": 0,
                    "track_total_hits": True,
                    "query": {
                        "bool": {
                            "filter": [self._range(end - 3_600_000, end + 1), *self._filters(())]
                        }
                    },
                },
                purpose="check: documents in the last hour",
                window=(end - 3_600_000, end + 1),
                warnings=warnings,
            )
            n = _total(ans)
            out.append(
                CheckResult(
                    self.name,
                    "recent documents",
                    n > 0,
                    f"{n} documents in the last hour",
                    ""
                    if n
                    else "no log in the last hour: check the index pattern, the filter and that logs are shipped",
                )
            )
        except RequestFailed as exc:
            out.append(
                CheckResult(self.name, "recent documents", False, str(exc), "see the message")
            )
        for w in warnings:
            out.append(CheckResult(self.name, "warning", False, w.message, ""))
        return out

    def _check_failure(self, exc: RequestFailed) -> list[CheckResult]:
        fixes = {
            "unreachable": "check hosts and that Elasticsearch is running and reachable from here",
            "dns": "check the host names in hosts",
            "tls": "set tls.ca_file to the CA that signed the server certificate, or tls.verify: false",
            "timeout": "check the network, or raise this source's timeout",
            "auth": "set api_key, or username/password (from environment variables)",
            "not_elasticsearch": "hosts does not point at Elasticsearch",
            "version": "set server_major",
        }
        reachable = exc.kind in ("auth", "version", "bad_query", "http", "server", "busy")
        out = [
            CheckResult(
                self.name,
                "reachable",
                reachable,
                "answers" if reachable else str(exc),
                "" if reachable else fixes.get(exc.kind, ""),
            )
        ]
        if reachable:
            out.append(
                CheckResult(
                    self.name,
                    "authenticated",
                    exc.kind != "auth",
                    str(exc),
                    fixes.get(exc.kind, ""),
                )
            )
        return out


# --------------------------------------------------------------------------- helpers


class _CauseText(Exception):
    """A transport error with its causes' texts: with ``max_retries=0`` the client's own
    message is just "Connection error", the reason lives in ``__cause__`` or ``errors``."""

    def __init__(self, exc: BaseException) -> None:
        parts: list[str] = []
        seen: set[int] = set()
        todo: list[BaseException] = [exc]
        while todo and len(parts) < 10:
            e = todo.pop(0)
            if id(e) in seen:
                continue
            seen.add(id(e))
            parts.append(f"{type(e).__name__}: {e}")
            todo.extend(x for x in getattr(e, "errors", ()) or () if isinstance(x, BaseException))
            for nxt in (e.__cause__, e.__context__):
                if nxt is not None:
                    todo.append(nxt)
        super().__init__(" | ".join(parts))


def _change_kind(action: Any, tags: Any, message: str) -> str:
    words = " ".join(
        str(x).lower()
        for x in ([action] if action is not None else [])
        + (tags if isinstance(tags, list) else [tags] if tags is not None else [])
    )
    for text in (str(action or "").lower(), words, message.lower()):
        if "rollback" in text or "roll back" in text or "rolled back" in text or "revert" in text:
            return "rollback"
        if "config" in text:
            return "config_change"
        if "deploy" in text or "release" in text:
            return "deploy"
    return "change"


def _get_path(src: Any, path: str) -> Any:
    """``a.b.c`` from a ``_source`` holding nested objects, flat dotted keys, or a mix."""
    if not isinstance(src, Mapping) or not path:
        return None
    if path in src:
        return src[path]
    parts = path.split(".")
    for i in range(1, len(parts)):
        head = ".".join(parts[:i])
        if head in src:
            found = _get_path(src[head], ".".join(parts[i:]))
            if found is not None:
                return found
    return None


def _sort_ms(hit: Mapping[str, Any]) -> int | None:
    sort = hit.get("sort") or []
    if not sort:
        return None
    try:
        return int(float(sort[0]))
    except (TypeError, ValueError):
        return None


def _strip_pit(body: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(body)
    if isinstance(out.get("pit"), Mapping):
        out["pit"] = {**out["pit"], "id": "<point in time id>"}
    return json.loads(json.dumps(out, default=str))


def _total(ans: Mapping[str, Any]) -> int:
    total = (ans.get("hits") or {}).get("total")
    if isinstance(total, Mapping):
        return int(total.get("value") or 0)
    return int(total or 0)


def _int(value: Any) -> int | None:
    if value is None:
        return None
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None


def _ms(t: dt.datetime) -> int:
    """An aware datetime as epoch milliseconds (exact: no float rounding)."""
    delta = t.astimezone(UTC) - dt.datetime(1970, 1, 1, tzinfo=UTC)
    return delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000


def _ms_to_dt(ms: int) -> dt.datetime:
    return dt.datetime(1970, 1, 1, tzinfo=UTC) + dt.timedelta(milliseconds=int(ms))


def _major(version: str | None) -> int | None:
    m = re.match(r"v?(\d+)", version or "")
    return int(m.group(1)) if m else None


def _short(obj: Any) -> str:
    return " ".join(str(obj).split())[:200]
