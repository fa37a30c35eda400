"""What a Prometheus server holds, read without changing anything: for ``pmrecon init``.

Every call is bounded: metric names and label values over one time range, the series of
one metric name at a time (``match[]`` never a bare regex over everything), the ``le``
values of one histogram, and one instant query per histogram for the share of requests
beyond its largest finite bucket. The answers are plain data (:class:`SeriesSample`,
lists of names); the choices made from them belong to :mod:`pmrecon.initconfig`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from connectors.promql import string_literal
from connectors.toolkit.failures import RequestFailed
from connectors.toolkit.settings import settings_with_defaults
from pmrecon.errors import ConnectorError

from .settings import SETTINGS_SCHEMA
from .transport import PrometheusApi, PrometheusHttp, fmt_ts

#: Most series of one metric read to learn its labels (the server sends them all; the rest
#: are not looked at, and the caller is told).
MAX_SERIES = 20_000


@dataclass(frozen=True)
class SeriesSample:
    """The label sets of one metric's series in the range (``__name__`` left out)."""

    metric: str
    label_sets: tuple[dict[str, str], ...]
    truncated: bool = False

    def labels(self) -> list[str]:
        """Every label name seen, in order of first appearance."""
        seen: dict[str, None] = {}
        for labels in self.label_sets:
            seen.update(dict.fromkeys(labels))
        return list(seen)

    def on_every_series(self, label: str) -> bool:
        """Whether ``label`` is set on every series."""
        return bool(self.label_sets) and all(label in s for s in self.label_sets)

    def values(self, label: str) -> list[str]:
        """The distinct values of ``label``, sorted."""
        return sorted({s[label] for s in self.label_sets if label in s})


class PrometheusInventory:
    """Read-only questions to one Prometheus server over one time range."""

    def __init__(self, url: str, auth: Mapping[str, Any], start: dt.datetime, end: dt.datetime):
        settings = settings_with_defaults(SETTINGS_SCHEMA, {"url": url, **auth}, "--prometheus")
        self.api = PrometheusApi("prometheus", PrometheusHttp("prometheus", settings))
        self.shown_url = self.api.http.shown_url
        self.start, self.end = start, end
        self.range = {"start": fmt_ts(start.timestamp()), "end": fmt_ts(end.timestamp())}

    def _get(self, path: str, params: Mapping[str, Any], purpose: str) -> Any:
        try:
            return self.api.call(path, params, purpose=purpose).data
        except RequestFailed as exc:
            raise ConnectorError(str(exc)) from exc

    def version(self) -> str | None:
        """The server's version (None when it does not say: Thanos, Mimir, VictoriaMetrics)."""
        try:
            data = self.api.call("/api/v1/status/buildinfo", purpose="version").data
        except RequestFailed as exc:
            if exc.kind != "not_found":
                raise ConnectorError(str(exc)) from exc
            return None
        return str(data.get("version")) if isinstance(data, dict) and data.get("version") else None

    def metric_names(self) -> list[str]:
        """Every metric name with samples in the range."""
        data = self._get("/api/v1/label/__name__/values", self.range, "metric names")
        return sorted(str(n) for n in data or [])

    def metric_type(self, metric: str) -> str | None:
        """The type the targets declare for ``metric`` or, for a ``_count``/``_bucket``/``_total``
        series, for its family (counter, histogram…); None when not served (VictoriaMetrics)."""
        family = re.sub(r"_(count|bucket|sum|total)$", "", metric)
        for name in dict.fromkeys((metric, family)):
            try:
                data = self.api.call(
                    "/api/v1/metadata", {"metric": name}, purpose=f"type of {name}"
                ).data
            except RequestFailed as exc:
                if exc.fatal:
                    raise ConnectorError(str(exc)) from exc
                return None  # an optional endpoint: names and buckets still tell the convention
            entries = (data or {}).get(name) if isinstance(data, dict) else None
            if entries and entries[0].get("type"):
                return str(entries[0]["type"])
        return None

    def series(self, metric: str) -> SeriesSample:
        """The label sets of ``metric``'s series in the range."""
        match = f"{{__name__={string_literal(metric)}}}"
        data = (
            self._get("/api/v1/series", {"match[]": match, **self.range}, f"series of {metric}")
            or []
        )
        sets = tuple(
            {str(k): str(v) for k, v in s.items() if k != "__name__"} for s in data[:MAX_SERIES]
        )
        return SeriesSample(metric, sets, truncated=len(data) > MAX_SERIES)

    def label_values(self, label: str, metric: str) -> list[str]:
        """The values ``label`` takes on ``metric`` in the range."""
        match = f"{{__name__={string_literal(metric)}}}"
        data = self._get(
            f"/api/v1/label/{label}/values",
            {"match[]": match, **self.range},
            f"{label} of {metric}",
        )
        return [str(v) for v in data or []]

    def share_above(self, bucket_metric: str, le: str) -> float | None:
        """The share of the range's observations above bucket ``le`` of ``bucket_metric``
        (None when the histogram counted nothing)."""
        seconds = max(1, int((self.end - self.start).total_seconds()))
        name = string_literal(bucket_metric)

        def total(bound: str) -> float | None:
            q = f"sum(increase({{__name__={name},le={string_literal(bound)}}}[{seconds}s]))"
            params = {"query": q, "time": fmt_ts(self.end.timestamp())}
            result = (self._get("/api/v1/query", params, f"buckets of {bucket_metric}") or {}).get(
                "result"
            ) or []
            return float(result[0]["value"][1]) if result else None

        everything, below = total("+Inf"), total(le)
        if not everything or below is None:
            return None
        return max(0.0, 1.0 - below / everything)
