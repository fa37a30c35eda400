"""The Prometheus source: one collect, from the server's intervals to the evidence.

A collect reads the server's version, intervals and rules (:mod:`.server`), chooses the
steps (:class:`Resolution`), reads the alerts (:mod:`.alerts`), finds the services and
runs the SLI queries over the window and the baseline (:mod:`.slis`), and returns the
evidence with every query it sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from connectors.base import CheckResult, CollectRequest, SourceContext
from connectors.promql import (
    Raw,
    TemplateError,
    choose_step,
    metric_names,
    nice_at_least,
    substitute,
)
from connectors.toolkit.failures import RequestFailed
from connectors.toolkit.settings import ConfiguredSource, is_disabled
from pmrecon.errors import ConnectorError
from pmrecon.model import Alert, Evidence, Series, SourceInfo, Warning

from . import check as checks
from .alerts import collect_alerts
from .server import server_info
from .settings import BASELINE_MAX_POINTS, DEFAULT_INTERVAL, SETTINGS_SCHEMA, SLI_KINDS, load_preset
from .slis import SliJob, Span, discover, run_jobs, sli_jobs
from .transport import PrometheusApi, PrometheusHttp

#: Most points per series in a scan's coarse first pass.
COARSE_MAX_POINTS = 600


@dataclass(frozen=True)
class Resolution:
    """The steps of one collect, from the scrape interval and the window's length."""

    scrape: float  # the scrape interval
    max_points: int  # per series
    step: float  # of ratios, latencies and rates
    count_step: float  # of request counts: at least twice the scrape interval
    rate_window: float  # range of rate(): 4 × scrape interval, at least the step


class PrometheusSource(ConfiguredSource):
    """A Prometheus-compatible server as a :class:`connectors.base.MetricsSource`."""

    kind = "prometheus"
    SETTINGS_SCHEMA = SETTINGS_SCHEMA

    def __init__(
        self, name: str, settings: Mapping[str, Any], context: SourceContext | None = None
    ) -> None:
        super().__init__(name, settings, context)
        s = self.settings
        self.http = PrometheusHttp(name, s, schema=SETTINGS_SCHEMA, retry_internal_errors=True)
        self.api = PrometheusApi(name, self.http, max_series=s["max_series"])
        self.preset = load_preset(s["preset"]) if s["preset"] else {"slis": {}}
        self.service_label = s["service_label"] or self.preset.get("service_label") or "service"
        self.templates: dict[str, str] = {}
        for kind in SLI_KINDS:
            user = s["slis"].get(kind)
            tpl = user if user is not None else self.preset["slis"].get(kind)
            if tpl and not is_disabled(tpl):
                self.templates[kind] = " ".join(str(tpl).split())
        self.extra = {str(k): " ".join(str(v).split()) for k, v in (s["extra"] or {}).items()}
        self._info: dict[str, Any] | None = None

    # ------------------------------------------------------------------ public

    def scrape_interval(self) -> float | None:
        """The scrape interval: the setting, else the server's global one."""
        if self.settings["scrape_interval"]:
            return float(self.settings["scrape_interval"])
        try:
            info = self._server_info()
        except ConnectorError:
            return None
        value = info.get("scrape_interval")
        return float(value) if value else None

    def collect(self, request: CollectRequest) -> Evidence:
        """Alerts and SLI series for the request's window (and its baseline)."""
        self.api.start(request.deadline)
        self._info = None
        warnings: list[Warning] = []
        info = self._server_info(warnings)
        res = self._resolution(request, info)
        alerts: list[Alert] = []
        if self.settings["alerts"]["enabled"]:
            alerts = collect_alerts(
                self.api,
                self.settings,
                request.window,
                info,
                warnings,
                services=request.services,
                service_label=self.service_label,
            )
        services = list(request.services) or [str(x) for x in self.settings["services"] or []]
        if not services:
            services = self._discover(request, warnings)
        spans = self._spans(request, res)
        quantiles = sorted(float(q) for q in self.settings["quantiles"] or [0.99])
        if request.coarse:
            quantiles = quantiles[-1:]
        jobs: list[SliJob] = []
        for span in spans:
            for svc in services:
                jobs.extend(
                    sli_jobs(self.name, self.templates, self.extra, svc, span, quantiles, warnings)
                )
        run_jobs(self.api, jobs, int(self.settings["max_concurrency"]))
        series = self._gather(jobs, warnings)
        warnings.extend(self.api.capped)
        return Evidence(
            window=request.window,
            baseline=request.baseline,
            alerts=alerts,
            series=series,
            sources=[self._source_info(info, res, spans, services)],
            warnings=warnings,
        )

    def check(self) -> list[CheckResult]:
        """Reachability, authentication, version, intervals and each configured metric."""
        self._info = None
        self.api.deadline = None
        return checks.check(
            self.api, self._server_info, self.configured_metrics(), self.settings["preset"]
        )

    def configured_metrics(self) -> list[str]:
        """Every metric the SLI templates read, in order."""
        names: list[str] = []
        dummy = {"service": "x", "window": Raw("1m"), "step": Raw("1m"), "quantile": 0.99}
        for tpl in [*self.templates.values(), *self.extra.values()]:
            try:
                rendered = substitute(tpl, dummy)
            except TemplateError:
                continue
            for n in metric_names(rendered):
                if n not in names:
                    names.append(n)
        return names

    # ------------------------------------------------------------------ steps of a collect

    def _server_info(self, warnings: list[Warning] | None = None) -> dict[str, Any]:
        """Version, intervals and rules, read once; an unreachable server raises ConnectorError."""
        if self._info is None:
            self._info = server_info(
                self.api, self.settings, warnings if warnings is not None else []
            )
        return self._info

    def _resolution(self, request: CollectRequest, info: Mapping[str, Any]) -> Resolution:
        s = self.settings
        length = request.window.end.timestamp() - request.window.start.timestamp()
        scrape = float(s["scrape_interval"] or info.get("scrape_interval") or DEFAULT_INTERVAL)
        max_points = int(s["max_points"])
        if request.coarse:
            max_points = min(COARSE_MAX_POINTS, max_points)
        step = float(s["step"] or choose_step(length, scrape, max_points))
        if length / step + 1 > max_points:  # a configured step too fine for a long window
            step = float(choose_step(length, step, max_points))
        return Resolution(
            scrape=scrape,
            max_points=max_points,
            step=step,
            count_step=float(nice_at_least(max(step, 2 * scrape))),
            rate_window=float(s["rate_window"] or nice_at_least(max(4 * scrape, step))),
        )

    def _spans(self, request: CollectRequest, res: Resolution) -> list[Span]:
        """The window, and the baseline (coarser when long; none in a scan's first pass)."""
        w = request.window
        spans = [
            Span(
                w.start.timestamp(),
                w.end.timestamp(),
                False,
                res.step,
                res.count_step,
                res.rate_window,
            )
        ]
        if request.baseline is None or request.coarse:
            return spans
        b0, b1 = request.baseline.start.timestamp(), request.baseline.end.timestamp()
        base_step = float(choose_step(b1 - b0, res.step, min(res.max_points, BASELINE_MAX_POINTS)))
        if base_step == res.step:
            spans.append(Span(b0, b1, True, res.step, res.count_step, res.rate_window))
        else:
            spans.append(
                Span(
                    b0,
                    b1,
                    True,
                    base_step,
                    float(nice_at_least(max(base_step, 2 * res.scrape))),
                    max(res.rate_window, base_step),
                )
            )
        return spans

    def _discover(self, request: CollectRequest, warnings: list[Warning]) -> list[str]:
        metric = self.settings["discover"] or self.preset.get("discover")
        if not metric:
            warnings.append(
                Warning(
                    self.name,
                    f"source {self.name!r}: no services configured and no metric to discover them; set 'services'",
                    code="no_services",
                )
            )
            return []
        return discover(self.api, metric, self.service_label, request.window, warnings)

    def _gather(self, jobs: list[SliJob], warnings: list[Warning]) -> list[Series]:
        """The jobs' series and warnings; the first fatal failure fails the whole source."""
        series: list[Series] = []
        fatal: RequestFailed | None = None
        for job in jobs:
            if job.error is not None:
                if job.error.fatal and fatal is None:
                    fatal = job.error
                warnings.append(Warning(self.name, str(job.error), code=f"sli_{job.error.kind}"))
                continue
            series.extend(job.series)
            warnings.extend(job.warnings)
        if fatal is not None:
            raise ConnectorError(str(fatal)) from fatal
        return series

    def _source_info(
        self, info: Mapping[str, Any], res: Resolution, spans: list[Span], services: list[str]
    ) -> SourceInfo:
        return SourceInfo(
            name=self.name,
            kind=self.kind,
            url=self.http.shown_url,
            version=info.get("version"),
            settings={
                "scrape_interval": res.scrape,
                "evaluation_interval": info.get("evaluation_interval"),
                "step": res.step,
                "baseline_step": spans[-1].step,  # the window's step without a baseline
                "count_step": res.count_step,
                "rate_window": res.rate_window,
                "preset": self.settings["preset"],
                "service_label": self.service_label,
                "services": services,
                "server": info.get("flavour"),
                "headers": sorted(self.settings["headers"] or {}),
            },
            queries=list(self.api.queries),
        )
