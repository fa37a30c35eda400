"""Prometheus (and API-compatible Thanos, Mimir, VictoriaMetrics): alerts and SLI series.

Alerts come from the raw samples of ``ALERTS``/``ALERTS_FOR_STATE`` (range selectors
evaluated at the window's end), never from ``query_range`` sampling: an alert resolved
at 10:00 then ends at its last sample plus one evaluation interval, not five minutes
later through the query lookback. SLIs are PromQL templates (from a preset or the
config) run over the window and over the baseline (one query per SLI for all the
services, grouped by the labels naming them, split back by service), with a step that
keeps every series under Prometheus's 11,000-point limit. A long baseline is read at a
coarser step (at most :data:`BASELINE_MAX_POINTS` points, rate window as long as the step):
it only gives a reference level and a faint line under the graphs, and at the window's
step it would cost the server as much as the window itself.

Request counts (``requests_total``/``requests_bad``) are ``sum(increase(x[step]))`` at a
step of at least twice the scrape interval, so that summing them over an interval gives
``1 − Σbad/Σtotal`` as a ratio of sums. On Prometheus 2.x with samples on the step grid
this is exact; elsewhere ``increase()`` extrapolates at each step's edges and the sums are
close, not exact (Prometheus 3 ranges are left-open).

Requests go through the toolkit's HTTP client (:mod:`connectors.toolkit.http`) so that
the server's ``warnings``, its error text and the response size are kept.

The modules, in the order a collect uses them:

- :mod:`.settings`: the settings schema, SLI kinds and presets;
- :mod:`.transport`: the API envelope, recorded calls and the collect's deadline;
- :mod:`.server`: version, scrape and evaluation intervals, alerting rules;
- :mod:`.alerts`: alert intervals from raw ``ALERTS`` samples;
- :mod:`.identity`: the labels that name a service, readable names, splitting;
- :mod:`.slis`: service discovery, SLI queries run in parallel, series;
- :mod:`.changes`: the series that show deploys, rollouts and restarts (build info,
  process start time, kube-state-metrics), found and read on their own;
- :mod:`.source`: :class:`PrometheusSource`, which ties them together;
- :mod:`.check`: what ``pmrecon check`` says about the source, with :mod:`.selectors`
  reading the metrics and label matchers of each SLI query.
"""

from __future__ import annotations

from connectors.toolkit.credentials import redact_url
from connectors.toolkit.failures import RequestFailed
from connectors.toolkit.http import HttpClient

from .alerts import build_alerts
from .settings import (
    BASELINE_MAX_POINTS,
    DEFAULT_INTERVAL,
    PRESETS,
    SETTINGS_SCHEMA,
    SLI_KINDS,
    UNITS,
    find_preset,
    load_preset,
)
from .source import PrometheusSource

__all__ = [
    "BASELINE_MAX_POINTS",
    "DEFAULT_INTERVAL",
    "PRESETS",
    "SETTINGS_SCHEMA",
    "SLI_KINDS",
    "UNITS",
    "HttpClient",
    "PrometheusSource",
    "RequestFailed",
    "build_alerts",
    "find_preset",
    "load_preset",
    "redact_url",
]
