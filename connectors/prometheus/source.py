"""The Prometheus source: one collect, from the server's intervals to the evidence.

A collect reads the server's version, intervals and rules (:mod:`.server`), chooses the
steps (:class:`Resolution`), reads the alerts (:mod:`.alerts`), finds the services and
runs the SLI queries over the window and the baseline (:mod:`.slis`), and returns the
evidence with every query it sent.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from connectors.base import CheckResult, CollectRequest, SourceContext
from connectors.promql import (
    TemplateError,
    choose_step,
    metric_names,
    nice_at_least,
    substitute,
)
from connectors.toolkit.failures import RequestFailed
from connectors.toolkit.settings import ConfiguredSource, is_disabled
from pmrecon.errors import ConfigError, ConnectorError
from pmrecon.model import Alert, Evidence, Series, SourceInfo, Warning

from . import check as checks
from .alerts import collect_alerts
from .changes import collect_changes
from .concentration import collect_breakdowns
from .identity import ServiceId, label_names, parse_service, shown_labels
from .server import server_info, settle_scrape_interval
from .settings import BASELINE_MAX_POINTS, DEFAULT_INTERVAL, SETTINGS_SCHEMA, SLI_KINDS, load_preset
from .slis import SliJob, Span, discover, run_jobs, span_jobs, template_values
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
        #: The labels that together name a service; the preset's may fall back to ``job``.
        self.service_labels, (self.status_label,) = self._labels(name)
        self.templates: dict[str, str] = {}
        for kind in SLI_KINDS:
            user = s["slis"].get(kind)
            tpl = user if user is not None else self.preset["slis"].get(kind)
            if tpl and not is_disabled(tpl):
                self.templates[kind] = " ".join(str(tpl).split())
        self.extra = {str(k): " ".join(str(v).split()) for k, v in (s["extra"] or {}).items()}
        self._info: dict[str, Any] | None = None

    def _labels(self, name: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """``service_label`` and ``status_label`` (set, else the preset's), both checked at once."""
        found: list[tuple[str, ...]] = []
        problems: list[str] = []
        for key, default in (("service_label", "service"), ("status_label", "code")):
            try:
                found.append(
                    label_names(
                        self.settings[key] or self.preset.get(key) or default,
                        f"sources.{name}.{key}",
                    )
                )
            except ConfigError as exc:
                problems.append(str(exc))
        if problems:
            raise ConfigError("; ".join(problems))
        return found[0], found[1][:1]

    @property
    def service_label(self) -> str:
        """The label holding the service's own name: the identity's last (``ingress``)."""
        return self.service_labels[-1]

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
        metric = self.settings["discover"] or self.preset.get("discover")
        metric = metric or next(iter(self.configured_metrics()), None)
        settle_scrape_interval(self.api, info, metric, request.window, warnings)
        res = self._resolution(request, info)
        identity, services = self._services(request, warnings)
        alerts: list[Alert] = []
        if self.settings["alerts"]["enabled"] and request.look_back is None:
            # the requested services as resolved (a name may stand for prod/web)
            wanted = (
                (tuple(s.name for s in services) or request.services) if request.services else ()
            )
            alerts = collect_alerts(
                self.api,
                self.settings,
                request.window,
                info,
                warnings,
                services=wanted,
                service_label=identity,
            )
        spans = self._spans(request, res)
        quantiles = sorted(float(q) for q in self.settings["quantiles"] or [0.99])
        if request.coarse:
            quantiles = quantiles[-1:]
        jobs: list[SliJob] = []
        for span in spans:
            jobs.extend(
                span_jobs(
                    self.name,
                    self.templates,
                    self.extra,
                    services,
                    self.status_label,
                    span,
                    quantiles,
                    warnings,
                )
            )
        run_jobs(self.api, jobs, int(self.settings["max_concurrency"]))
        series = self._gather(jobs, warnings, services)
        breakdowns = []
        if not request.coarse and request.look_back is None:  # the look-back wants SLIs only
            series += collect_changes(self.api, services, identity, spans, warnings)
            breakdowns = collect_breakdowns(
                self.api, self.templates, identity, services, self.status_label, spans,
                request.window, int(self.settings["max_concurrency"]), warnings,
            )  # fmt: skip
        warnings.extend(self.api.capped)
        return Evidence(
            window=request.window,
            baseline=request.baseline,
            alerts=alerts,
            series=series,
            sources=[self._source_info(info, res, spans, identity, services)],
            warnings=warnings,
            breakdowns=breakdowns,
        )

    def check(self) -> list[CheckResult]:
        """Reachability, authentication, version, intervals, and each metric the SLI queries
        read, with the labels they match on."""
        self._info = None
        self.api.deadline = None
        return checks.check(
            self.api,
            self._server_info,
            self.check_queries(),
            self.settings["preset"],
            self._label_settings(),
        )

    def configured_metrics(self) -> list[str]:
        """Every metric the SLI templates read, in order."""
        names: list[str] = []
        for query in self.check_queries():
            for n in metric_names(query.query):
                if n not in names:
                    names.append(n)
        return names

    def check_queries(self) -> list[checks.SliQuery]:
        """The SLI and extra queries as a collect renders them, for the check's service."""
        sentinel = ServiceId(tuple((k, checks.SERVICE_SENTINEL) for k in self.service_labels))
        dummy = {**template_values(sentinel, self.status_label, 60, 60), "quantile": 0.99}
        out: list[checks.SliQuery] = []
        named = [(f"slis.{k}", k, t) for k, t in self.templates.items()]
        named += [(f"extra.{k}", k, t) for k, t in self.extra.items()]
        for setting, name, tpl in named:
            try:
                out.append(checks.SliQuery(name, substitute(tpl, dummy), setting))
            except TemplateError:
                continue
        return out

    def _label_settings(self) -> dict[str, list[str]]:
        """The labels each label setting names: the service identity, the status label."""
        return {"service_label": list(self.service_labels), "status_label": [self.status_label]}

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
        if request.look_back is not None:
            # the baseline's steps (its span below), coarser only past max_points of them
            b0, b1 = request.look_back.start.timestamp(), request.look_back.end.timestamp()
            base = self._spans(dataclasses.replace(request, look_back=None), res)[-1]
            step = float(choose_step(b1 - b0, base.step, res.max_points))
            if step == base.step:
                return [dataclasses.replace(base, start=b0, end=b1)]
            count = float(nice_at_least(max(step, 2 * res.scrape)))
            return [Span(b0, b1, True, step, count, max(res.rate_window, step))]
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

    def _services(
        self, request: CollectRequest, warnings: list[Warning]
    ) -> tuple[tuple[str, ...], list[ServiceId]]:
        """The identity and the services to query: the requested or configured ones, else discovered.

        Named services are still looked up by discovery when there is a metric to discover
        them: it tells which identity the data uses (``job`` for the preset's label, a
        label added to split a name), and a name that stands for several services is
        queried as each of them, with a warning, never as their sum.
        """
        identity = self.service_labels
        names = list(request.services) or [str(x) for x in self.settings["services"] or []]
        metric = self.settings["discover"] or self.preset.get("discover")
        if not metric:
            if not names:
                warnings.append(
                    Warning(
                        self.name,
                        f"source {self.name!r}: no services configured and no metric to discover them; set 'services'",
                        code="no_services",
                        params={},
                    )
                )
            return identity, self._parsed(names, identity, warnings)
        found_in: list[Warning] = []
        identity, found = discover(
            self.api,
            metric,
            identity,
            request.window,
            found_in,
            fallback=not self.settings["service_label"],
        )
        if not names:
            warnings.extend(found_in)
            return identity, found
        # the configured names are what counts: an empty discovery is no news
        warnings.extend(w for w in found_in if w.code != "no_services")
        return identity, self._named(names, identity, found, warnings)

    def _named(
        self,
        names: list[str],
        identity: tuple[str, ...],
        found: list[ServiceId],
        warnings: list[Warning],
    ) -> list[ServiceId]:
        """The discovered services the ``names`` stand for (each one, when a name stands for several)."""
        out: list[ServiceId] = []
        for name in names:
            same = [s for s in found if s.name == name]
            if not same:
                same = [s for s in found if s.value == name and s.name.endswith("/" + name)]
                if len(same) > 1:
                    warnings.append(
                        Warning(
                            self.name,
                            f"source {self.name!r}: service {name!r} is several services: "
                            f"{', '.join(s.name for s in same)}; each is analysed on its own "
                            "(name the one you mean in 'services')",
                            code="services_split",
                            params={"service": name, "setting": "services"},
                        )
                    )
            out.extend(same or self._parsed([name], identity, warnings))
        return list(dict.fromkeys(out))

    def _parsed(
        self, names: list[str], identity: tuple[str, ...], warnings: list[Warning]
    ) -> list[ServiceId]:
        """Readable names as services of ``identity``; a name with too few parts is a warning."""
        out = []
        for name in names:
            svc = parse_service(name, identity)
            if svc is None:
                warnings.append(
                    Warning(
                        self.name,
                        f"source {self.name!r}: service {name!r} does not name every label of "
                        f"{'/'.join(identity)}: write it as "
                        f"{'/'.join('<' + k + '>' for k in identity)}",
                        code="bad_service_name",
                        params={"service": name, "label": "/".join(identity)},
                    )
                )
            else:
                out.append(svc)
        return out

    def _gather(
        self, jobs: list[SliJob], warnings: list[Warning], services: list[ServiceId]
    ) -> list[Series]:
        """The jobs' series and warnings; the first fatal failure fails the whole source.

        Series and warnings come span by span, service by service, SLI by SLI, in the
        services' order, whether a query was grouped or not.
        """
        place = {svc.name: i for i, svc in enumerate(services)}
        parts: list[tuple[tuple[bool, int, int], list[Series], list[Warning]]] = []
        fatal: RequestFailed | None = None
        for job in jobs:
            if job.error is not None:
                if job.error.fatal and fatal is None:
                    fatal = job.error
                warnings.append(
                    Warning(
                        self.name,
                        str(job.error),
                        code=f"sli_{job.error.kind}",
                        params={"sli": job.name, "service": job.service, "kind": job.error.kind},
                    )
                )
                continue
            for service, (found, said) in job.parts.items():
                parts.append(((job.baseline, place.get(service, -1), job.order), found, said))
        if fatal is not None:
            raise ConnectorError(str(fatal)) from fatal
        series: list[Series] = []
        for _, found, said in sorted(parts, key=lambda p: p[0]):
            series.extend(found)
            warnings.extend(said)
        return series

    def _source_info(
        self,
        info: Mapping[str, Any],
        res: Resolution,
        spans: list[Span],
        identity: tuple[str, ...],
        services: list[ServiceId],
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
                "service_label": shown_labels(identity),
                "status_label": self.status_label,
                "services": [svc.name for svc in services],
                "server": info.get("flavour"),
                "headers": sorted(self.settings["headers"] or {}),
            },
            queries=list(self.api.queries),
        )
