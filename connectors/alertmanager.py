"""Alertmanager (API v2): silences created during the window, as timeline events.

Alertmanager keeps no alert history (that is Prometheus's ``ALERTS``), but it keeps
expired silences for its retention period (``--data.retention``, 120 h by default).
A silence created during the window becomes an :class:`~pmrecon.model.Event` of kind
``silence``; the first one that targets an alert (it has an ``alertname`` matcher, or
matches ``ack_matchers``) carries ``labels["ack"] = "true"``, so analysis can offer it
as the acknowledgement time (MTTA). ``labels["matchers"]`` keeps the silence's
matchers in PromQL form (``alertname="HighErrorRate",service=~"a|b"``) for analysis to
match against alerts.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Mapping
from typing import Any

from connectors._common import settings_with_defaults
from connectors.base import CheckResult, CollectRequest, SourceContext
from connectors.prometheus import HttpClient, RequestFailed
from connectors.promql import string_literal
from pmrecon.config import Key
from pmrecon.errors import ConnectorError
from pmrecon.model import Event, Evidence, QueryRecord, SourceInfo, Warning, parse_rfc3339

SETTINGS_SCHEMA: dict[str, Any] = {
    "url": Key("str", "http://127.0.0.1:9093", "base URL, with its path prefix if any"),
    "headers": Key("dict", {}, "extra HTTP headers"),
    "bearer_token": Key("str", None, "bearer token (use ${ENV_VAR})", secret=True),
    "username": Key("str", None, "basic-auth user"),
    "password": Key("str", None, "basic-auth password (use ${ENV_VAR})", secret=True),
    "tls": {
        "ca_file": Key("file", None, "CA bundle that signed the server's certificate"),
        "cert_file": Key("file", None, "client certificate (mutual TLS)"),
        "key_file": Key("file", None, "client certificate's private key"),
        "verify": Key("bool", True, "verify the server's certificate"),
    },
    "timeout": Key("duration", 30, "limit for one HTTP request", exclusive_minimum=0),
    "retries": Key("int", 2, "retries after a connection error, 429 or 5xx", minimum=0, maximum=10),
    "retry_backoff": Key(
        "float", 0.5, "backoff factor between retries, in seconds", minimum=0, maximum=60
    ),
    "acknowledge": Key(
        "bool", True, "offer the first silence of an alert as its acknowledgement time"
    ),
    "ack_matchers": Key(
        "dict", {}, "only silences whose matchers accept these labels count as acknowledgement"
    ),
}


def matchers_text(matchers: list[Mapping[str, Any]]) -> str:
    """Alertmanager matchers in PromQL form: ``alertname="X",service=~"a|b"``."""
    parts = []
    for m in matchers:
        equal = m.get("isEqual", True)
        op = ("=~" if equal else "!~") if m.get("isRegex") else ("=" if equal else "!=")
        parts.append(f"{m.get('name')}{op}{string_literal(str(m.get('value', '')))}")
    return ",".join(parts)


def silence_matches(matchers: list[Mapping[str, Any]], labels: Mapping[str, str]) -> bool:
    """Whether a silence with these matchers silences an alert with these labels."""
    for m in matchers:
        value = labels.get(str(m.get("name")), "")
        pattern = str(m.get("value", ""))
        if m.get("isRegex"):
            try:
                hit = re.fullmatch(pattern, value) is not None
            except re.error:
                return False
        else:
            hit = value == pattern
        if hit != bool(m.get("isEqual", True)):
            return False
    return True


class AlertmanagerSource:
    """An Alertmanager as a source of silence events."""

    kind = "alertmanager"

    def __init__(
        self, name: str, settings: Mapping[str, Any], context: SourceContext | None = None
    ) -> None:
        self.name = name
        self.context = context or SourceContext()
        self.settings = settings_with_defaults(
            SETTINGS_SCHEMA, dict(settings or {}), f"sources.{name}"
        )
        self.http = HttpClient(name, self.settings, prometheus_client=False)
        self._seq = 0

    def _get(
        self, path: str, purpose: str, queries: list[QueryRecord], deadline: float | None = None
    ) -> Any:
        self._seq += 1
        rec = QueryRecord(
            id=f"{self.name}:q{self._seq}",
            source=self.name,
            purpose=purpose,
            query="",
            endpoint=path,
        )
        queries.append(rec)
        timeout = None
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ConnectorError(
                    f"source {self.name!r}: time limit reached before {path} was read; raise 'timeout'"
                )
            timeout = min(left, self.http.timeout)
        try:
            ans = self.http.call(path, envelope=False, timeout=timeout)
        except RequestFailed as exc:
            rec.warnings.append(str(exc))
            raise
        rec.duration_seconds = round(ans.duration, 4)
        rec.bytes_received = ans.bytes
        if isinstance(ans.data, list):
            rec.result_count = len(ans.data)
        return ans.data

    def collect(self, request: CollectRequest) -> Evidence:
        """Silences created (started) during the window, oldest first."""
        queries: list[QueryRecord] = []
        warnings: list[Warning] = []
        version = None
        try:
            status = self._get("/api/v2/status", "server version", queries, request.deadline)
            version = ((status or {}).get("versionInfo") or {}).get("version")
        except RequestFailed as exc:
            if exc.fatal:
                raise ConnectorError(str(exc)) from exc
            warnings.append(Warning(self.name, str(exc), code="no_status"))
        try:
            silences = self._get("/api/v2/silences", "silences", queries, request.deadline) or []
        except RequestFailed as exc:
            raise ConnectorError(str(exc)) from exc
        w = request.window
        pairs: list[tuple[Event, Mapping[str, Any]]] = []
        for s in silences if isinstance(silences, list) else []:
            try:
                at = parse_rfc3339(str(s["startsAt"]))
            except (KeyError, ValueError):
                continue
            if not w.start <= at < w.end:
                continue
            pairs.append((self._event(s, at), s))
        pairs.sort(key=lambda p: (p[0].at, p[0].ref or ""))
        events = [e for e, _ in pairs]
        if self.settings["acknowledge"]:
            wanted = {str(k): str(v) for k, v in (self.settings["ack_matchers"] or {}).items()}
            for ev, s in pairs:
                matchers = s.get("matchers") or []
                targets_alert = any(m.get("name") == "alertname" for m in matchers)
                if (wanted and silence_matches(matchers, wanted)) or (not wanted and targets_alert):
                    ev.labels["ack"] = "true"
                    break
        source = SourceInfo(
            name=self.name,
            kind=self.kind,
            url=self.http.shown_url,
            version=version,
            settings={"acknowledge": self.settings["acknowledge"]},
            queries=queries,
        )
        return Evidence(
            window=w, baseline=request.baseline, events=events, sources=[source], warnings=warnings
        )

    def _event(self, s: Mapping[str, Any], at: dt.datetime) -> Event:
        sid = str(s.get("id", ""))
        matchers = list(s.get("matchers") or [])
        names = [str(m.get("value")) for m in matchers if m.get("name") == "alertname"]
        who = s.get("createdBy") or "unknown"
        target = ", ".join(names) if names else matchers_text(matchers)
        comment = str(s.get("comment") or "").strip()
        text = f"silence created by {who} for alerts {target}" + (f": {comment}" if comment else "")
        labels = {
            "silence_id": sid,
            "created_by": str(who),
            "matchers": matchers_text(matchers),
            "ends_at": str(s.get("endsAt", "")),
            "state": str((s.get("status") or {}).get("state", "")),
        }
        exact = [
            str(m.get("value"))
            for m in matchers
            if m.get("name") == "alertname" and not m.get("isRegex") and m.get("isEqual", True)
        ]
        if len(exact) == 1:
            # the analysis matches it to the incident's alerts by name, not by text search
            labels["alertname"] = exact[0]
        return Event(at=at, kind="silence", source=self.name, text=text, ref=sid, labels=labels)

    def check(self) -> list[CheckResult]:
        """Reachable, version, and whether silences can be listed."""
        queries: list[QueryRecord] = []
        try:
            status = self._get("/api/v2/status", "check: status", queries)
        except RequestFailed as exc:
            fix = "set bearer_token or username/password" if exc.kind == "auth" else "check the URL"
            return [CheckResult(self.name, "reachable", exc.kind == "auth", str(exc), fix)]
        version = ((status or {}).get("versionInfo") or {}).get("version")
        out = [
            CheckResult(self.name, "reachable", True, f"{self.http.shown_url} answers"),
            CheckResult(self.name, "version", True, f"Alertmanager {version or 'unknown'}"),
        ]
        try:
            silences = self._get("/api/v2/silences", "check: silences", queries)
            out.append(
                CheckResult(self.name, "silences", True, f"{len(silences or [])} silences kept")
            )
        except RequestFailed as exc:
            out.append(CheckResult(self.name, "silences", False, str(exc), "check the API v2 path"))
        return out
