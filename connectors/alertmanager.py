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

from connectors.base import CheckResult, CollectRequest, SourceContext
from connectors.promql import string_literal
from connectors.toolkit.failures import RequestFailed, json_kind
from connectors.toolkit.http import HttpClient
from connectors.toolkit.recording import QueryRecorder
from connectors.toolkit.settings import ConfiguredSource, http_settings
from pmrecon.errors import ConnectorError
from pmrecon.model import Event, Evidence, SourceInfo, Warning, parse_rfc3339
from pmrecon.settings_schema import Key

SETTINGS_SCHEMA: dict[str, Any] = {
    **http_settings("http://127.0.0.1:9093", "base URL, with its path prefix if any"),
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


def answer_problem(path: str, data: Any) -> str | None:
    """What is wrong with an answer of API v2 before anything reads it, or None."""
    if data is None:
        return None  # read as nothing
    if path.endswith("/status"):
        ok = isinstance(data, dict) and isinstance(data.get("versionInfo") or {}, dict)
        return None if ok else "the status is not an object with versionInfo"
    if not isinstance(data, list):
        return f"{json_kind(data)} where a list of silences is due"
    for i, silence in enumerate(data):
        if not isinstance(silence, dict):
            return f"silence {i} is {json_kind(silence)}, not an object"
        matchers = silence.get("matchers") or []
        if not isinstance(matchers, list) or not all(isinstance(m, dict) for m in matchers):
            return f"silence {i}'s matchers are not a list of objects"
        if not isinstance(silence.get("status") or {}, dict):
            return f"silence {i}'s status is not an object"
    return None


class AlertmanagerSource(ConfiguredSource):
    """An Alertmanager as a source of silence events."""

    kind = "alertmanager"
    SETTINGS_SCHEMA = SETTINGS_SCHEMA

    def __init__(
        self, name: str, settings: Mapping[str, Any], context: SourceContext | None = None
    ) -> None:
        super().__init__(name, settings, context)
        self.http = HttpClient(
            name, self.settings, schema=SETTINGS_SCHEMA, retry_internal_errors=True
        )
        # numbered across collects and checks: ids stay unique if their records are merged
        self.recorder = QueryRecorder(name)

    def _get(self, path: str, purpose: str, deadline: float | None = None) -> Any:
        rec = self.recorder.record(purpose, "", endpoint=path)
        timeout = None
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ConnectorError(
                    f"source {self.name!r}: time limit reached before {path} was read; raise 'timeout'"
                )
            timeout = min(left, self.http.timeout)
        data = self.recorder.send(self.http, rec, path, timeout=timeout, time_failures=False).data
        problem = answer_problem(path, data)
        if problem is not None:
            raise ConnectorError(
                f"source {self.name!r} ({self.http.shown_url}): the answer to {path} is not an "
                f"Alertmanager response ({problem}); check the URL"
            )
        return data

    def collect(self, request: CollectRequest) -> Evidence:
        """Silences created (started) during the window, oldest first."""
        self.recorder.reset(renumber=False)
        warnings: list[Warning] = []
        version = None
        try:
            status = self._get("/api/v2/status", "server version", request.deadline)
            version = ((status or {}).get("versionInfo") or {}).get("version")
        except RequestFailed as exc:
            if exc.fatal:
                raise ConnectorError(str(exc)) from exc
            warnings.append(
                Warning(self.name, str(exc), code="no_status", params={"kind": exc.kind})
            )
        try:
            silences = self._get("/api/v2/silences", "silences", request.deadline) or []
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
            queries=list(self.recorder.records),
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
        self.recorder.reset(renumber=False)
        try:
            status = self._get("/api/v2/status", "check: status")
        except RequestFailed as exc:
            fix = "set bearer_token or username/password" if exc.kind == "auth" else "check the URL"
            return [CheckResult(self.name, "reachable", exc.kind == "auth", str(exc), fix)]
        version = ((status or {}).get("versionInfo") or {}).get("version")
        out = [
            CheckResult(self.name, "reachable", True, f"{self.http.shown_url} answers"),
            CheckResult(self.name, "version", True, f"Alertmanager {version or 'unknown'}"),
        ]
        try:
            silences = self._get("/api/v2/silences", "check: silences")
            out.append(
                CheckResult(self.name, "silences", True, f"{len(silences or [])} silences kept")
            )
        except RequestFailed as exc:
            out.append(CheckResult(self.name, "silences", False, str(exc), "check the API v2 path"))
        return out
