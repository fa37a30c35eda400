"""Deterministic incident scenarios: the data servers hold, and the true answers.

A :class:`Scenario` is declared (services with degraded phases, alerts, log
signatures, change events) and generates, from that declaration alone:

- ``openmetrics()``: Prometheus samples as OpenMetrics text (timestamps in
  seconds, each series in time order, ``# EOF``) for
  ``promtool tsdb create-blocks-from openmetrics``;
- ``log_docs()``: ECS log documents for Elasticsearch;
- ``truth``: the answers a correct pmrecon must find, computed from the
  declaration (never from pmrecon's code).

Every scenario sits on its own date (fixed, in the past) so that all of
:data:`SCENARIOS` backfill into one Prometheus data directory and one
Elasticsearch index without touching each other.

Conventions used below:

- Counters accrue per scrape tick ``t``; the increment at ``t`` counts the
  requests of the step ``(t - scrape, t]`` and uses the state (error ratio,
  latency) in force at ``t - scrape``. A phase ``[t0, t1)`` therefore owns
  exactly the increments at ticks ``t0 + scrape … t1``.
- ``total_inc = round(rps * scrape)``; failures accrue with a carried
  remainder (``owed += total_inc * ratio; bad = floor(owed)``), so even a
  0.1 % baseline produces a few failures. Failures are split 2/3 code 500,
  1/3 code 503; 1 % of requests are 404 (client errors, *not* failures).
- Histograms: all requests of a step are at the step's latency, so the true
  quantile lies in a known classic bucket.
- ``ALERTS``/``ALERTS_FOR_STATE`` are written on the evaluation grid while an
  alert is active: pending from ``active_from`` for ``for_seconds``, then
  firing until ``active_until``. There are no stale markers (backfill cannot
  write them): a reader must use raw samples.
- Truth intervals follow Prometheus's own semantics: an interval is
  ``[first sample, last sample + eval_interval]``; clipped to the window,
  it ends at the window end with ``open_end`` when the alert outlives it.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

UTC = dt.timezone.utc

BASE_ERROR_RATIO = 0.001
BASE_LATENCY = 0.08
BUCKETS: tuple[float, ...] = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, math.inf)
ERROR_LEVELS = ("error", "fatal", "critical")

#: The label that names a service, per metric convention.
SERVICE_LABEL = {
    "http_requests_total": "service",
    "micrometer": "application",
    "ingress_nginx": "ingress",
}


def t(text: str) -> dt.datetime:
    """``"2026-01-12 10:00"`` (UTC) as an aware datetime."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def ts(d: dt.datetime) -> int:
    return int(d.timestamp())


def _iso(epoch: float) -> str:
    d = dt.datetime.fromtimestamp(epoch, tz=UTC)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{d.microsecond // 1000:03d}Z"


def _le(b: float) -> str:
    return "+Inf" if math.isinf(b) else repr(b)


def _bucket_bounds(latency: float) -> tuple[float, float]:
    lo = 0.0
    for b in BUCKETS:
        if latency <= b:
            return lo, b
        lo = b
    raise AssertionError("unreachable")


# --------------------------------------------------------------------------- declaration


@dataclass(frozen=True)
class Phase:
    """A span ``[t0, t1)`` during which a service is degraded (None: baseline value).

    ``rps``: the traffic in force during the phase (a surge), else the service's own:
    ``total_inc`` is then ``round(phase.rps * scrape)``.
    """

    t0: dt.datetime
    t1: dt.datetime
    error_ratio: float | None = None
    latency_seconds: float | None = None
    rps: float | None = None


@dataclass(frozen=True)
class ServiceProfile:
    """A service: its traffic and its degraded phases (healthy outside them)."""

    name: str
    rps: float = 20.0
    phases: tuple[Phase, ...] = ()
    baseline_error_ratio: float = BASE_ERROR_RATIO
    baseline_latency: float = BASE_LATENCY

    @property
    def instance(self) -> str:
        return f"{self.name}-0:8080"

    def state(self, at: float) -> tuple[float, float, Phase | None]:
        """(error ratio, latency, phase) in force at epoch ``at``; the last matching phase wins."""
        found: Phase | None = None
        for p in self.phases:
            if ts(p.t0) <= at < ts(p.t1):
                found = p
        if found is None:
            return self.baseline_error_ratio, self.baseline_latency, None
        ratio = found.error_ratio if found.error_ratio is not None else self.baseline_error_ratio
        lat = found.latency_seconds if found.latency_seconds is not None else self.baseline_latency
        return ratio, lat, found

    def degraded(self, p: Phase) -> bool:
        return (p.error_ratio is not None and p.error_ratio > self.baseline_error_ratio) or (
            p.latency_seconds is not None and p.latency_seconds > self.baseline_latency
        )

    def error_phase(self, p: Phase | None) -> bool:
        return (
            p is not None
            and p.error_ratio is not None
            and p.error_ratio > self.baseline_error_ratio
        )


@dataclass(frozen=True)
class AlertSpec:
    """An alerting rule's life: each activation ``(active_from, active_until)`` goes pending, then fires."""

    name: str
    service: str
    activations: tuple[tuple[dt.datetime, dt.datetime], ...]
    for_seconds: int = 60
    severity: str = "critical"
    summary: str = "High error rate on {{ $labels.service }}"
    description: str = "More than 5% of requests to {{ $labels.service }} fail."
    runbook_url: str = "https://runbooks.example.com/high-error-rate"


@dataclass(frozen=True)
class LogSignature:
    """A family of log lines with variable parts: ``{n}`` numbers, ``{hex}``, ``{uuid}``.

    ``mode="failures"``: one line per ``per_failures`` failed requests of ``service``
    during its error phases (so it is new with the incident).
    ``mode="periodic"``: one line every ``every_seconds`` over the whole data span
    (so it is present in the baseline too).
    """

    key: str
    service: str
    template: str
    level: str = "error"
    error_type: str | None = None
    mode: str = "failures"
    per_failures: int = 20
    every_seconds: int = 600


@dataclass(frozen=True)
class ChangeEvent:
    """A deploy, rollback or config change, logged as an ECS document."""

    at: dt.datetime
    service: str
    kind: str = "deploy"  # deploy | rollback | config_change
    version: str = "1.0.0"
    actor: str = "ci-bot"

    @property
    def text(self) -> str:
        verb = {
            "deploy": "Deployed",
            "rollback": "Rolled back",
            "config_change": "Changed config of",
        }
        return f"{verb.get(self.kind, self.kind)} {self.service} to {self.version} by {self.actor}"


@dataclass
class Scenario:
    """One incident (or none) around a window ``[start, end)``; data spans baseline + window + tail."""

    name: str
    start: dt.datetime
    end: dt.datetime
    services: list[ServiceProfile]
    alerts: list[AlertSpec] = field(default_factory=list)
    log_signatures: list[LogSignature] = field(default_factory=list)
    change_events: list[ChangeEvent] = field(default_factory=list)
    scrape_interval: int = 15
    eval_interval: int = 15
    convention: str = "http_requests_total"
    gaps: list[tuple[dt.datetime, dt.datetime, str]] = field(default_factory=list)
    counter_resets: list[tuple[dt.datetime, str]] = field(default_factory=list)
    mitigation: dt.datetime | None = None
    tail: dt.timedelta = dt.timedelta(minutes=30)
    info_every_seconds: int = 60
    logs_start: dt.datetime | None = None  # no log before it (retention shorter than the baseline)
    description: str = ""

    # ------------------------------------------------------------------ spans

    @property
    def window(self) -> tuple[dt.datetime, dt.datetime]:
        return self.start, self.end

    @property
    def baseline(self) -> tuple[dt.datetime, dt.datetime]:
        """The default baseline: as long as the window, just before it."""
        return self.start - (self.end - self.start), self.start

    @property
    def data_start(self) -> dt.datetime:
        return self.baseline[0]

    @property
    def data_end(self) -> dt.datetime:
        return self.end + self.tail

    @property
    def service_label(self) -> str:
        return SERVICE_LABEL[self.convention]

    def service(self, name: str) -> ServiceProfile:
        return next(s for s in self.services if s.name == name)

    def scrape_ticks(self) -> list[int]:
        return list(range(ts(self.data_start), ts(self.data_end) + 1, self.scrape_interval))

    # ------------------------------------------------------------------ metrics

    @cached_property
    def _steps(self) -> dict[str, list[dict[str, Any]]]:
        """Per service, per scrape tick: the step's increments and whether it was scraped."""
        out: dict[str, list[dict[str, Any]]] = {}
        ticks = self.scrape_ticks()
        for svc in self.services:
            owed = 0.0
            resets = {
                self._tick_at_or_after(ts(r)) for r, s in self.counter_resets if s == svc.name
            }
            rows: list[dict[str, Any]] = []
            for i, tick in enumerate(ticks):
                ratio, lat, phase = svc.state(tick - self.scrape_interval)
                if i == 0:
                    total, bad = 0, 0
                else:
                    rps = svc.rps if phase is None or phase.rps is None else phase.rps
                    total = round(rps * self.scrape_interval)
                    owed += total * ratio
                    bad = min(int(owed + 1e-9), total)
                    owed -= bad
                scraped = not any(
                    ts(g0) <= tick < ts(g1) for g0, g1, s in self.gaps if s == svc.name
                )
                rows.append(
                    {
                        "t": tick,
                        "total": total,
                        "bad": bad,
                        "latency": lat,
                        "ratio": ratio,
                        "error_phase": svc.error_phase(phase),
                        "scraped": scraped,
                        "reset": tick in resets,
                    }
                )
            out[svc.name] = rows
        return out

    def steps(self, service: str) -> list[dict[str, Any]]:
        """Per scrape tick of ``service``: ``t``, ``total``/``bad`` increments, ``latency``,
        ``ratio``, ``error_phase``, ``scraped``, ``reset`` (the generator's ground truth)."""
        return self._steps[service]

    def alert_ticks(self, spec: AlertSpec) -> list[dict[str, Any]]:
        """Per activation of ``spec``: ``active_at``, ``pending``/``firing`` eval ticks, ``until``."""
        return self._alert_ticks(spec)

    def _tick_at_or_after(self, epoch: int) -> int:
        s = self.scrape_interval
        return -(-epoch // s) * s

    def _series(self) -> Iterator[tuple[str, dict[str, str], list[tuple[int, float]]]]:
        """Every series as (metric name, labels, [(t, value)]) in time order."""
        for svc in self.services:
            yield from self._service_series(svc)
            up = [(r["t"], 1.0 if r["scraped"] else 0.0) for r in self._steps[svc.name]]
            yield "up", {"job": svc.name, "instance": svc.instance}, up
        yield from self._alert_series()

    def _service_series(
        self, svc: ServiceProfile
    ) -> Iterator[tuple[str, dict[str, str], list[tuple[int, float]]]]:
        rows = self._steps[svc.name]
        # per status code: increments per step
        codes: dict[str, list[int]] = {"200": [], "404": [], "500": [], "503": []}
        for r in rows:
            bad = r["bad"]
            c503 = bad // 3
            c404 = min(r["total"] // 100, r["total"] - bad)
            codes["500"].append(bad - c503)
            codes["503"].append(c503)
            codes["404"].append(c404)
            codes["200"].append(r["total"] - bad - c404)
        lat = [r["latency"] for r in rows]

        def cumulate(incs: list[float]) -> list[tuple[int, float]]:
            out, acc = [], 0.0
            for r, inc in zip(rows, incs):
                acc = inc if r["reset"] else acc + inc
                if r["scraped"]:
                    out.append((r["t"], acc))
            return out

        def buckets(incs: list[int]) -> Iterator[tuple[str, list[tuple[int, float]]]]:
            for b in BUCKETS:
                yield _le(b), cumulate([n if lt <= b else 0 for n, lt in zip(incs, lat)])

        name = svc.name
        totals = [r["total"] for r in rows]
        if self.convention == "http_requests_total":
            for code, incs in codes.items():
                yield "http_requests_total", {"service": name, "code": code}, cumulate(incs)
            base = "http_request_duration_seconds"
            for le, samples in buckets(totals):
                yield f"{base}_bucket", {"service": name, "le": le}, samples
            yield f"{base}_sum", {"service": name}, cumulate([n * x for n, x in zip(totals, lat)])
            yield f"{base}_count", {"service": name}, cumulate(totals)
        elif self.convention == "micrometer":
            outcome = {
                "200": "SUCCESS",
                "404": "CLIENT_ERROR",
                "500": "SERVER_ERROR",
                "503": "SERVER_ERROR",
            }
            base = "http_server_requests_seconds"
            for code, incs in codes.items():
                labels = {
                    "application": name,
                    "method": "GET",
                    "outcome": outcome[code],
                    "status": code,
                    "uri": "/api/orders/{id}",
                }
                for le, samples in buckets(incs):
                    yield f"{base}_bucket", {**labels, "le": le}, samples
                yield f"{base}_count", labels, cumulate(incs)
                yield f"{base}_sum", labels, cumulate([n * x for n, x in zip(incs, lat)])
        elif self.convention == "ingress_nginx":
            common = {"ingress": name, "namespace": "web", "service": name}
            for code, incs in codes.items():
                yield (
                    "nginx_ingress_controller_requests",
                    {**common, "status": code},
                    cumulate(incs),
                )
            base = "nginx_ingress_controller_request_duration_seconds"
            for le, samples in buckets(totals):
                yield f"{base}_bucket", {**common, "le": le}, samples
            yield f"{base}_sum", common, cumulate([n * x for n, x in zip(totals, lat)])
            yield f"{base}_count", common, cumulate(totals)
        else:
            raise ValueError(f"unknown convention {self.convention!r}")

    def _alert_ticks(self, spec: AlertSpec) -> list[dict[str, Any]]:
        """Per activation: eval ticks while pending and while firing, and activeAt."""
        e = self.eval_interval
        lo, hi = ts(self.data_start), ts(self.data_end)
        out = []
        for a0, a1 in spec.activations:
            first = -(-ts(a0) // e) * e
            ticks = [x for x in range(first, ts(a1), e) if lo <= x <= hi]
            fire_at = first + spec.for_seconds
            out.append(
                {
                    "active_at": first,
                    "pending": [x for x in ticks if x < fire_at],
                    "firing": [x for x in ticks if x >= fire_at],
                    "until": ts(a1),
                }
            )
        return out

    def alert_labels(self, spec: AlertSpec) -> dict[str, str]:
        svc = self.service(spec.service)
        return {
            "alertname": spec.name,
            "instance": svc.instance,
            "job": svc.name,
            "service": svc.name,
            "severity": spec.severity,
        }

    def _alert_series(self) -> Iterator[tuple[str, dict[str, str], list[tuple[int, float]]]]:
        for spec in self.alerts:
            labels = self.alert_labels(spec)
            acts = self._alert_ticks(spec)
            for state in ("pending", "firing"):
                samples = [(x, 1.0) for a in acts for x in a[state]]
                if samples:
                    yield "ALERTS", {**labels, "alertstate": state}, samples
            for_state = [
                (x, float(a["active_at"])) for a in acts for x in sorted(a["pending"] + a["firing"])
            ]
            if for_state:
                yield "ALERTS_FOR_STATE", labels, for_state

    def openmetrics(self) -> str:
        """All series as OpenMetrics text: seconds timestamps, time-ordered series, ``# EOF``."""
        lines: list[str] = []
        for metric, labels, samples in self._series():
            body = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
            head = f"{metric}{{{body}}} "
            for x, v in samples:
                lines.append(f"{head}{_num(v)} {x}")
        lines.append("# EOF")
        return "\n".join(lines) + "\n"

    def rules(self) -> list[dict[str, Any]]:
        """Alerting rules named like the synthetic alerts, so /api/v1/rules has their annotations."""
        out = []
        for spec in self.alerts:
            out.append(
                {
                    "alert": spec.name,
                    "expr": _rule_expr(spec.name, self.convention),
                    "for": f"{spec.for_seconds}s",
                    "labels": {"severity": spec.severity},
                    "annotations": {
                        "summary": spec.summary,
                        "description": spec.description,
                        "runbook_url": spec.runbook_url,
                    },
                }
            )
        return out

    # ------------------------------------------------------------------ logs

    @cached_property
    def _docs(self) -> list[tuple[dict[str, Any], str | None]]:
        """(ECS doc, signature key or None), sorted by time."""
        docs: list[tuple[float, int, dict[str, Any], str | None]] = []
        seq = 0
        rng = random.Random(f"{self.name}:logs")
        lo, hi = ts(self.data_start), ts(self.data_end)

        def add(
            epoch: float, svc: str, level: str, message: str, sig: str | None, **extra: Any
        ) -> None:
            nonlocal seq
            if self.logs_start is not None and epoch < ts(self.logs_start):
                return
            doc = {
                "@timestamp": _iso(epoch),
                "log.level": level,
                "message": message,
                "service.name": svc,
                "host.name": f"{svc}-0",
                "trace.id": f"{rng.getrandbits(128):032x}",
                "user.id": f"u{rng.randint(1, 500):04d}",
                "event.category": "web",
                "tags": [self.name],
            }
            doc.update(extra)
            docs.append((epoch, seq, doc, sig))
            seq += 1

        for svc in self.services:
            for x in range(lo, hi + 1, self.info_every_seconds):
                add(
                    x + 0.5,
                    svc.name,
                    "info",
                    f"GET /api/{svc.name}/items 200 in {rng.randint(5, 90)}ms",
                    None,
                )
        for sig in self.log_signatures:
            srng = random.Random(f"{self.name}:{sig.key}")
            if sig.mode == "periodic":
                offset = sig.every_seconds // 3 + 7
                for x in range(lo + offset, hi + 1, sig.every_seconds):
                    self._add_sig(add, sig, x, srng)
            elif sig.mode == "failures":
                owed = 0.0
                for r in self._steps[sig.service]:
                    if not r["error_phase"] or not r["bad"]:
                        continue
                    owed += r["bad"] / sig.per_failures
                    n = int(owed + 1e-9)
                    owed -= n
                    for i in range(n):
                        self._add_sig(
                            add,
                            sig,
                            r["t"]
                            - self.scrape_interval
                            + (i + 1) * self.scrape_interval / (n + 1),
                            srng,
                        )
            else:
                raise ValueError(f"unknown log signature mode {sig.mode!r}")
        for ev in self.change_events:
            add(
                ts(ev.at),
                ev.service,
                "info",
                ev.text,
                None,
                **{
                    "event.category": "deployment",
                    "event.action": ev.kind,
                    "service.version": ev.version,
                    "user.name": ev.actor,
                    "tags": [self.name, "deployment", ev.kind],
                },
            )
        docs.sort(key=lambda d: (d[0], d[1]))
        return [(d, s) for _, _, d, s in docs]

    @staticmethod
    def _add_sig(
        add: Callable[..., None], sig: LogSignature, epoch: float, rng: random.Random
    ) -> None:
        msg = sig.template.format(
            n=rng.randint(100, 99999),
            hex=f"0x{rng.getrandbits(32):08x}",
            uuid=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        )
        extra: dict[str, Any] = {"error.message": msg}
        if sig.error_type:
            extra["error.type"] = sig.error_type
        add(epoch, sig.service, sig.level, msg, sig.key, **extra)

    def log_docs(self) -> Iterator[dict[str, Any]]:
        """ECS documents (flat dotted keys), in time order."""
        for doc, _ in self._docs:
            yield dict(doc)

    # ------------------------------------------------------------------ truth

    @cached_property
    def truth(self) -> dict[str, Any]:
        return _compute_truth(self)


def nested(doc: dict[str, Any]) -> dict[str, Any]:
    """A flat ECS doc (``"log.level"``) as nested objects (``{"log": {"level"}}``)."""
    out: dict[str, Any] = {}
    for k, v in doc.items():
        if k.startswith("@"):
            out[k] = v
            continue
        node = out
        *parents, last = k.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[last] = v
    return out


def _escape(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _num(v: float) -> str:
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return repr(round(v, 6))


def _rule_expr(alertname: str, convention: str) -> str:
    if convention == "micrometer":
        metric, label, code = "http_server_requests_seconds_count", "application", "status"
    elif convention == "ingress_nginx":
        metric, label, code = "nginx_ingress_controller_requests", "ingress", "status"
    else:
        metric, label, code = "http_requests_total", "service", "code"
    if "Latency" in alertname:
        return (
            f"histogram_quantile(0.99, sum by ({label}, le) "
            f"(rate(http_request_duration_seconds_bucket[1m]))) > 1"
        )
    return (
        f'sum by ({label}) (rate({metric}{{{code}=~"5.."}}[1m])) '
        f"/ sum by ({label}) (rate({metric}[1m])) > 0.05"
    )


def rules_yaml(scenarios: list[Scenario], interval: int = 15) -> str:
    """One rule group with a rule per distinct alertname across ``scenarios``."""
    import yaml

    seen: dict[str, dict[str, Any]] = {}
    for sc in scenarios:
        for rule in sc.rules():
            seen.setdefault(rule["alert"], rule)
    group = {"name": "pmrecon-scenarios", "interval": f"{interval}s", "rules": list(seen.values())}
    return yaml.safe_dump({"groups": [group]}, sort_keys=False)


# --------------------------------------------------------------------------- truth


def _dt(epoch: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, tz=UTC)


def _intervals(ticks: list[int], eval_s: int, w0: int, w1: int) -> list[dict[str, Any]]:
    """Runs of consecutive eval ticks inside [w0, w1) → [first, last + eval], clipped to w1."""
    inside = [x for x in ticks if w0 <= x < w1]
    runs: list[list[int]] = []
    for x in inside:
        if runs and x - runs[-1][-1] <= eval_s:
            runs[-1].append(x)
        else:
            runs.append([x])
    return [
        {"start": _dt(r[0]), "end": _dt(min(r[-1] + eval_s, w1)), "open_end": False, "last": r[-1]}
        for r in runs
    ]


def _compute_truth(sc: Scenario) -> dict[str, Any]:
    w0, w1 = ts(sc.start), ts(sc.end)
    b0, b1 = (ts(x) for x in sc.baseline)
    e = sc.eval_interval
    truth: dict[str, Any] = {
        "name": sc.name,
        "window": sc.window,
        "baseline": sc.baseline,
        "scrape_interval": sc.scrape_interval,
        "eval_interval": e,
        "convention": sc.convention,
        "service_label": sc.service_label,
        "services": [s.name for s in sc.services],
    }

    # alerts, clipped to the window
    alerts = []
    for spec in sc.alerts:
        acts = sc._alert_ticks(spec)
        entry: dict[str, Any] = {
            "name": spec.name,
            "service": spec.service,
            "severity": spec.severity,
            "labels": sc.alert_labels(spec),
            "annotations": {
                "summary": spec.summary,
                "description": spec.description,
                "runbook_url": spec.runbook_url,
            },
            "active_at": [],
            "pending": [],
            "firing": [],
        }
        for a in acts:
            visible = [x for x in a["pending"] + a["firing"] if w0 <= x < w1]
            if not visible:
                continue
            entry["active_at"].append(_dt(a["active_at"]))
            for state in ("pending", "firing"):
                for iv in _intervals(a[state], e, w0, w1):
                    # the alert outlives the window: still pending/firing at its end
                    outlives = (state == "firing" and a["until"] > w1) or (
                        state == "pending" and not a["firing"] and a["until"] > w1
                    )
                    if outlives and iv["last"] + e >= w1:
                        iv["open_end"] = True
                        iv["end"] = _dt(w1)
                    entry[state].append((iv["start"], iv["end"]))
                    entry.setdefault(f"{state}_open_end", []).append(iv["open_end"])
        entry["open_end"] = any(entry.get("firing_open_end", [])) or any(
            entry.get("pending_open_end", [])
        )
        if entry["pending"] or entry["firing"]:
            alerts.append(entry)
    truth["alerts"] = alerts
    firing_starts = [iv[0] for a in alerts for iv in a["firing"]]
    truth["first_alert"] = min(firing_starts) if firing_starts else None

    # impact from declared degraded phases, clipped to the window
    spans = []
    for svc in sc.services:
        for p in svc.phases:
            if svc.degraded(p) and ts(p.t0) < w1 and ts(p.t1) > w0:
                spans.append((max(ts(p.t0), w0), ts(p.t1), svc.name))
    spans.sort()
    incidents: list[dict[str, Any]] = []
    for a, b, name in spans:
        if incidents and a - incidents[-1]["_end"] <= 900:
            inc = incidents[-1]
            inc["_end"] = max(inc["_end"], b)
            if name not in inc["services"]:
                inc["services"].append(name)
        else:
            incidents.append({"_start": a, "_end": b, "services": [name]})
    for inc in incidents:
        inc["impact_start"] = _dt(inc["_start"])
        inc["resolution"] = _dt(inc["_end"]) if inc["_end"] <= w1 else None
        fa = [s for s in firing_starts if inc["_start"] <= ts(s) <= inc["_end"] + 900]
        inc["first_alert"] = min(fa) if fa else None
    truth["incidents"] = [
        {k: v for k, v in inc.items() if not k.startswith("_")} for inc in incidents
    ]
    truth["impact_start"] = incidents[0]["impact_start"] if incidents else None
    truth["resolution"] = (
        None
        if not incidents or any(i["resolution"] is None for i in incidents)
        else incidents[-1]["resolution"]
    )
    truth["mitigation_start"] = sc.mitigation

    # availability over [impact_start, resolution or window end] (whole window without incident)
    a_t = ts(truth["impact_start"]) if incidents else w0
    b_t = ts(truth["resolution"]) if truth["resolution"] else w1
    truth["availability_interval"] = (_dt(a_t), _dt(b_t))
    # the headline covers the impacted services (every service when there is no incident);
    # the all-services figures are kept beside it
    impacted = {n for inc in incidents for n in inc["services"]} or {s.name for s in sc.services}
    truth["impacted_services"] = sorted(impacted)
    for suffix, names in (("", impacted), ("_all_services", {s.name for s in sc.services})):
        total = bad = 0
        for name in sorted(names):
            for r in sc._steps[name]:
                if a_t < r["t"] <= b_t:
                    total += r["total"]
                    bad += r["bad"]
        truth["requests_total" + suffix] = total
        truth["failed_requests" + suffix] = bad
        truth["availability" + suffix] = 1 - bad / total if total else None

    # max error ratio over declared states in the window (steps starting in [w0, w1))
    best: tuple[float, int, str] | None = None
    per_service: dict[str, dict[str, Any]] = {}
    for svc in sc.services:
        sbest: tuple[float, int] | None = None
        for x in range(w0, w1, sc.scrape_interval):
            ratio, _, _ = svc.state(x)
            if sbest is None or ratio > sbest[0] + 1e-12:
                sbest = (ratio, x)
        assert sbest is not None
        per_service[svc.name] = {"max": sbest[0], "at": _dt(sbest[1])}
        if best is None or sbest[0] > best[0] + 1e-12:
            best = (sbest[0], sbest[1], svc.name)
    assert best is not None
    truth["max_error_ratio"] = {"value": best[0], "at": _dt(best[1]), "service": best[2]}
    truth["error_ratio_by_service"] = per_service

    # p99 plateau: the longest-latency phase in the window (or the baseline)
    p99: dict[str, Any] = {}
    for svc in sc.services:
        cand = [
            p
            for p in svc.phases
            if p.latency_seconds is not None and ts(p.t0) < w1 and ts(p.t1) > w0
        ]
        if cand:
            p = max(cand, key=lambda q: (q.latency_seconds, -ts(q.t0)))
            lat, t0_, t1_ = p.latency_seconds, p.t0, min(p.t1, sc.end)
        else:
            lat, t0_, t1_ = svc.baseline_latency, sc.start, sc.end
        assert lat is not None
        lo, hi = _bucket_bounds(lat)
        p99[svc.name] = {"latency": lat, "lo": lo, "hi": hi, "t0": t0_, "t1": t1_}
    truth["p99"] = p99

    # logs
    truth["logs"] = _log_truth(sc, w0, w1)
    truth["baseline_logs"] = _log_truth(sc, b0, b1)
    sigs = []
    # novelty: absent from the baseline's logs and not seen before the impact (minus the
    # stability period); unknown (None) when neither holds any log
    impact = ts(truth["impact_start"]) - 600 if truth["impact_start"] else None
    base_has_logs = any(b0 <= _epoch(d["@timestamp"]) < b1 for d, _ in sc._docs)
    before_has_logs = impact is not None and any(
        w0 <= _epoch(d["@timestamp"]) < impact for d, _ in sc._docs
    )
    base_counts = Counter(
        s
        for d, s in sc._docs
        if s and b0 <= _epoch(d["@timestamp"]) < b1 and d["log.level"] in ERROR_LEVELS + ("warn",)
    )
    by_key: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for d, s in sc._docs:
        if s and w0 <= _epoch(d["@timestamp"]) < w1:
            by_key[s].append(d)
    for sig in sc.log_signatures:
        ds = by_key.get(sig.key, [])
        if not ds:
            continue
        sigs.append(
            {
                "key": sig.key,
                "template": sig.template,
                "service": sig.service,
                "level": sig.level,
                "error_type": sig.error_type,
                "count": len(ds),
                "first_seen": _dt(_epoch(ds[0]["@timestamp"])),
                "last_seen": _dt(_epoch(ds[-1]["@timestamp"])),
                "baseline_count": base_counts.get(sig.key, 0),
                "new": _novelty(
                    base_counts.get(sig.key, 0) if base_has_logs else None,
                    _epoch(ds[0]["@timestamp"]) if before_has_logs else None,
                    impact,
                ),
                "examples": [d["message"] for d in ds[:3]],
            }
        )
    truth["signatures"] = sigs
    truth["new_signatures"] = [s["key"] for s in sigs if s["new"]]
    truth["unknown_novelty"] = [s["key"] for s in sigs if s["new"] is None]
    truth["change_events"] = [
        {
            "at": ev.at,
            "kind": ev.kind,
            "service": ev.service,
            "version": ev.version,
            "text": ev.text,
        }
        for ev in sc.change_events
        if w0 <= ts(ev.at) < w1
    ]
    return truth


def _novelty(
    baseline_count: int | None, first_seen: float | None, before: float | None
) -> bool | None:
    """New unless seen in the baseline or before ``before``; None when neither can tell."""
    if baseline_count:
        return False
    if first_seen is not None and before is not None:
        return first_seen >= before
    return None if baseline_count is None else True


def _epoch(iso: str) -> float:
    return dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def _log_truth(sc: Scenario, lo: int, hi: int) -> dict[str, Any]:
    by_service: Counter[str] = Counter()
    by_level: Counter[str] = Counter()
    by_service_level: dict[str, Counter[str]] = defaultdict(Counter)
    users: set[str] = set()
    errors_by_service: Counter[str] = Counter()
    total = 0
    for d, _ in sc._docs:
        x = _epoch(d["@timestamp"])
        if not lo <= x < hi:
            continue
        total += 1
        svc, lvl = d["service.name"], d["log.level"]
        by_service[svc] += 1
        by_level[lvl] += 1
        by_service_level[svc][lvl] += 1
        if lvl in ERROR_LEVELS:
            errors_by_service[svc] += 1
            users.add(d["user.id"])
    return {
        "total": total,
        "by_service": dict(by_service),
        "by_level": dict(by_level),
        "by_service_level": {k: dict(v) for k, v in by_service_level.items()},
        "errors": sum(errors_by_service.values()),
        "errors_by_service": dict(errors_by_service),
        "distinct_users": len(users),
    }


# --------------------------------------------------------------------------- catalogue


def _standard_signatures(service: str) -> list[LogSignature]:
    """A new incident signature, an old one (baseline too), and a warning."""
    return [
        LogSignature(
            key=f"{service}-upstream-timeout",
            service=service,
            template="Upstream payment-gateway timed out after {n}ms for order {uuid}",
            error_type="UpstreamTimeoutError",
            per_failures=25,
        ),
        LogSignature(
            key=f"{service}-pool-exhausted",
            service=service,
            template="Connection pool exhausted: {n} waiting, handle {hex}",
            error_type="PoolExhaustedError",
            per_failures=60,
        ),
        LogSignature(
            key=f"{service}-legacy-deprecation",
            service=service,
            template="Legacy endpoint /v1/cart called by client {hex} ({n} calls today)",
            error_type="DeprecatedApiError",
            mode="periodic",
            every_seconds=420,
        ),
        LogSignature(
            key=f"{service}-slow-cache",
            service=service,
            template="Cache lookup took {n}ms for key session:{uuid}",
            level="warn",
            mode="periodic",
            every_seconds=900,
        ),
    ]


def clean_single() -> Scenario:
    svc = ServiceProfile(
        "checkout", rps=20, phases=(Phase(t("2026-01-12 11:00"), t("2026-01-12 11:40"), 0.25, 0.6),)
    )
    return Scenario(
        "clean_single",
        t("2026-01-12 10:00"),
        t("2026-01-12 12:30"),
        services=[svc, ServiceProfile("cart", rps=10)],
        alerts=[
            AlertSpec(
                "HighErrorRate", "checkout", ((t("2026-01-12 11:02"), t("2026-01-12 11:42")),)
            ),
            AlertSpec(
                "HighLatency",
                "checkout",
                ((t("2026-01-12 11:03"), t("2026-01-12 11:41")),),
                for_seconds=120,
                severity="warning",
                summary="p99 latency of {{ $labels.service }} above 500ms",
                description="Slow responses.",
                runbook_url="https://runbooks.example.com/high-latency",
            ),
        ],
        log_signatures=_standard_signatures("checkout"),
        change_events=[
            ChangeEvent(t("2026-01-12 10:58"), "checkout", "deploy", "2.4.0"),
            ChangeEvent(t("2026-01-12 11:30"), "checkout", "rollback", "2.3.9", actor="alice"),
        ],
        mitigation=t("2026-01-12 11:30"),
        description="one service fails 40 min after a deploy; a rollback fixes it",
    )


def flapping() -> Scenario:
    svc = ServiceProfile(
        "search", rps=16, phases=(Phase(t("2026-01-19 14:10"), t("2026-01-19 14:50"), 0.08),)
    )
    acts = (
        (t("2026-01-19 14:12"), t("2026-01-19 14:18")),
        (t("2026-01-19 14:21"), t("2026-01-19 14:26")),
        (t("2026-01-19 14:29"), t("2026-01-19 14:40")),
        (t("2026-01-19 14:43"), t("2026-01-19 14:51")),
    )
    return Scenario(
        "flapping",
        t("2026-01-19 13:30"),
        t("2026-01-19 15:30"),
        services=[svc],
        alerts=[AlertSpec("HighErrorRate", "search", acts)],
        log_signatures=_standard_signatures("search"),
        description="an error ratio hovering near the threshold: the alert fires four times",
    )


def latency_only() -> Scenario:
    d = "2026-01-26"
    phases = (
        Phase(t(f"{d} 09:00"), t(f"{d} 09:10"), latency_seconds=0.3),
        Phase(t(f"{d} 09:10"), t(f"{d} 09:20"), latency_seconds=0.7),
        Phase(t(f"{d} 09:20"), t(f"{d} 09:40"), latency_seconds=1.7),
        Phase(t(f"{d} 09:40"), t(f"{d} 09:50"), latency_seconds=3.5),
        Phase(t(f"{d} 09:50"), t(f"{d} 10:00"), latency_seconds=0.7),
    )
    return Scenario(
        "latency_only",
        t(f"{d} 08:00"),
        t(f"{d} 10:30"),
        services=[ServiceProfile("catalog", rps=12, phases=phases)],
        alerts=[
            AlertSpec(
                "HighLatency",
                "catalog",
                ((t(f"{d} 09:22"), t(f"{d} 10:01")),),
                for_seconds=120,
                severity="warning",
                summary="p99 latency of {{ $labels.service }} above 500ms",
                description="Slow responses.",
                runbook_url="https://runbooks.example.com/high-latency",
            )
        ],
        description="slow degradation: latency climbs in steps, no errors",
    )


def two_services() -> Scenario:
    d = "2026-02-02"
    return Scenario(
        "two_services",
        t(f"{d} 12:00"),
        t(f"{d} 15:00"),
        services=[
            ServiceProfile(
                "orders", rps=20, phases=(Phase(t(f"{d} 13:00"), t(f"{d} 13:30"), 0.3),)
            ),
            ServiceProfile(
                "inventory", rps=8, phases=(Phase(t(f"{d} 13:40"), t(f"{d} 14:20"), 0.15),)
            ),
        ],
        alerts=[
            AlertSpec("HighErrorRate", "orders", ((t(f"{d} 13:02"), t(f"{d} 13:31")),)),
            AlertSpec("HighErrorRate", "inventory", ((t(f"{d} 13:42"), t(f"{d} 14:21")),)),
        ],
        log_signatures=_standard_signatures("orders") + _standard_signatures("inventory")[:1],
        change_events=[ChangeEvent(t(f"{d} 12:55"), "orders", "deploy", "7.1.0")],
        description="orders fails, then inventory fails ten minutes after orders recovers",
    )


def two_incidents() -> Scenario:
    d = "2026-02-09"
    svc = ServiceProfile(
        "gateway",
        rps=24,
        phases=(
            Phase(t(f"{d} 10:20"), t(f"{d} 10:45"), 0.2),
            Phase(t(f"{d} 12:00"), t(f"{d} 12:30"), 0.35, 0.4),
        ),
    )
    return Scenario(
        "two_incidents",
        t(f"{d} 10:00"),
        t(f"{d} 13:00"),
        services=[svc],
        alerts=[
            AlertSpec(
                "HighErrorRate",
                "gateway",
                ((t(f"{d} 10:22"), t(f"{d} 10:46")), (t(f"{d} 12:02"), t(f"{d} 12:31"))),
            )
        ],
        log_signatures=_standard_signatures("gateway"),
        description="two separate incidents 75 minutes apart in one window",
    )


def in_progress() -> Scenario:
    d = "2026-02-16"
    svc = ServiceProfile("billing", rps=20, phases=(Phase(t(f"{d} 15:10"), t(f"{d} 18:00"), 0.4),))
    return Scenario(
        "in_progress",
        t(f"{d} 14:00"),
        t(f"{d} 16:00"),
        services=[svc],
        alerts=[AlertSpec("HighErrorRate", "billing", ((t(f"{d} 15:12"), t(f"{d} 18:00")),))],
        log_signatures=_standard_signatures("billing"),
        description="the incident is still going on at the window's end",
    )


def midnight_paris() -> Scenario:
    svc = ServiceProfile(
        "auth", rps=20, phases=(Phase(t("2026-02-23 22:45"), t("2026-02-23 23:25"), 0.3),)
    )
    return Scenario(
        "midnight_paris",
        t("2026-02-23 22:00"),
        t("2026-02-24 00:30"),
        services=[svc],
        alerts=[
            AlertSpec("HighErrorRate", "auth", ((t("2026-02-23 22:47"), t("2026-02-23 23:26")),))
        ],
        log_signatures=_standard_signatures("auth"),
        description="23:45–00:25 Europe/Paris: the incident crosses local midnight",
    )


def dst_paris() -> Scenario:
    svc = ServiceProfile(
        "profile", rps=20, phases=(Phase(t("2026-03-29 00:40"), t("2026-03-29 01:30"), 0.2),)
    )
    return Scenario(
        "dst_paris",
        t("2026-03-29 00:00"),
        t("2026-03-29 02:30"),
        services=[svc],
        alerts=[
            AlertSpec("HighErrorRate", "profile", ((t("2026-03-29 00:42"), t("2026-03-29 01:31")),))
        ],
        log_signatures=_standard_signatures("profile"),
        description="01:40 CET – 03:30 CEST: the incident spans the spring DST change",
    )


def scrape_gap() -> Scenario:
    d = "2026-04-06"
    svc = ServiceProfile("shipping", rps=20, phases=(Phase(t(f"{d} 10:30"), t(f"{d} 11:20"), 0.2),))
    return Scenario(
        "scrape_gap",
        t(f"{d} 09:30"),
        t(f"{d} 12:00"),
        services=[svc],
        alerts=[AlertSpec("HighErrorRate", "shipping", ((t(f"{d} 10:32"), t(f"{d} 11:21")),))],
        gaps=[(t(f"{d} 10:50"), t(f"{d} 10:55"), "shipping")],
        log_signatures=_standard_signatures("shipping")[:1],
        description="Prometheus could not scrape the service for 5 minutes mid-incident",
    )


def counter_reset() -> Scenario:
    d = "2026-04-13"
    svc = ServiceProfile("ledger", rps=20, phases=(Phase(t(f"{d} 10:30"), t(f"{d} 11:10"), 0.15),))
    return Scenario(
        "counter_reset",
        t(f"{d} 09:30"),
        t(f"{d} 12:00"),
        services=[svc],
        alerts=[AlertSpec("HighErrorRate", "ledger", ((t(f"{d} 10:32"), t(f"{d} 11:11")),))],
        counter_resets=[(t(f"{d} 10:47"), "ledger"), (t(f"{d} 09:00"), "ledger")],
        log_signatures=_standard_signatures("ledger")[:1],
        description="the service restarts mid-incident: its counters reset to zero",
    )


def no_incident() -> Scenario:
    d = "2026-04-20"
    return Scenario(
        "no_incident",
        t(f"{d} 10:00"),
        t(f"{d} 12:00"),
        services=[ServiceProfile("quiet", rps=10)],
        log_signatures=_standard_signatures("quiet")[2:],
        description="nothing happened",
    )


def micrometer() -> Scenario:
    d = "2026-04-27"
    svc = ServiceProfile(
        "spring-orders", rps=20, phases=(Phase(t(f"{d} 10:30"), t(f"{d} 11:00"), 0.2, 1.2),)
    )
    return Scenario(
        "micrometer",
        t(f"{d} 09:30"),
        t(f"{d} 12:00"),
        services=[svc],
        convention="micrometer",
        alerts=[AlertSpec("HighErrorRate", "spring-orders", ((t(f"{d} 10:32"), t(f"{d} 11:01")),))],
        log_signatures=_standard_signatures("spring-orders")[:1],
        description="a Spring Boot service (Micrometer metric names)",
    )


def ingress_nginx() -> Scenario:
    d = "2026-05-04"
    svc = ServiceProfile(
        "web-frontend", rps=30, phases=(Phase(t(f"{d} 10:30"), t(f"{d} 11:00"), 0.3, 0.7),)
    )
    return Scenario(
        "ingress_nginx",
        t(f"{d} 09:30"),
        t(f"{d} 12:00"),
        services=[svc],
        convention="ingress_nginx",
        alerts=[AlertSpec("HighErrorRate", "web-frontend", ((t(f"{d} 10:32"), t(f"{d} 11:01")),))],
        log_signatures=_standard_signatures("web-frontend")[:1],
        description="traffic seen by ingress-nginx",
    )


def logs_from_window_start() -> Scenario:
    """Log retention shorter than the baseline: the logs begin at the window start."""
    d = "2026-05-18"
    steady = LogSignature(
        key="payments-ledger-retry",
        service="payments",
        template="Ledger write retried after {n}ms for batch {hex}",
        error_type="LedgerRetryError",
        mode="periodic",
        every_seconds=60,
    )
    return Scenario(
        "logs_from_window_start",
        t(f"{d} 08:00"),
        t(f"{d} 10:30"),
        services=[
            ServiceProfile(
                "payments", rps=20, phases=(Phase(t(f"{d} 09:10"), t(f"{d} 09:40"), 0.2),)
            )
        ],
        alerts=[AlertSpec("HighErrorRate", "payments", ((t(f"{d} 09:12"), t(f"{d} 09:41")),))],
        log_signatures=[steady] + _standard_signatures("payments")[:1],
        logs_start=t(f"{d} 08:00"),
        description="a steady error from the first minute is not new; the incident's error is",
    )


def busy_neighbour() -> Scenario:
    """One service fails while a three-times-busier one stays healthy (headline availability).

    The phase starts and ends between two 30 s count steps (at :15), so a count step
    straddles each end: the analysis must count them the same way at both ends.
    """
    d = "2026-05-11"
    return Scenario(
        "busy_neighbour",
        t(f"{d} 09:00"),
        t(f"{d} 11:00"),
        services=[
            ServiceProfile(
                "checkout", rps=20, phases=(Phase(t(f"{d} 09:50:15"), t(f"{d} 10:20:15"), 0.15),)
            ),
            ServiceProfile("catalog", rps=60),
        ],
        alerts=[AlertSpec("HighErrorRate", "checkout", ((t(f"{d} 09:52"), t(f"{d} 10:21")),))],
        log_signatures=_standard_signatures("checkout")[:1],
        description="checkout loses 15 % of its requests; catalog, three times busier, is fine",
    )


SCENARIOS: dict[str, Callable[[], Scenario]] = {
    "clean_single": clean_single,
    "flapping": flapping,
    "latency_only": latency_only,
    "two_services": two_services,
    "two_incidents": two_incidents,
    "in_progress": in_progress,
    "midnight_paris": midnight_paris,
    "dst_paris": dst_paris,
    "scrape_gap": scrape_gap,
    "counter_reset": counter_reset,
    "no_incident": no_incident,
    "micrometer": micrometer,
    "ingress_nginx": ingress_nginx,
    "busy_neighbour": busy_neighbour,
    "logs_from_window_start": logs_from_window_start,
}


def all_scenarios() -> list[Scenario]:
    return [f() for f in SCENARIOS.values()]


# --------------------------------------------------------------------------- scheduled mode (scan)


@dataclass
class LongScenario(Scenario):
    """A scan's long window: its data starts ``lead`` before the window, not a whole window earlier.

    A scan reads no baseline for the whole window (its coarse pass has none); each
    incident's detail pass reads a baseline as long as its own short window, so a day
    of lead is plenty and keeps the data small.
    """

    lead: dt.timedelta = dt.timedelta(days=1)

    @property
    def baseline(self) -> tuple[dt.datetime, dt.datetime]:
        return self.start - self.lead, self.start


def scan_three_days() -> LongScenario:
    """Three days, three incidents: two alert storms 10 minutes apart (one incident), a
    payments outage, and a worker whose failures show only in the logs. A warning-level
    alert with no impact must not count."""
    d1, d2, d3 = "2026-07-06", "2026-07-07", "2026-07-08"
    storm = ((t(f"{d1} 10:01"), t(f"{d1} 10:16")), (t(f"{d1} 10:26"), t(f"{d1} 10:41")))
    storm_cart = ((t(f"{d1} 10:02"), t(f"{d1} 10:15")), (t(f"{d1} 10:27"), t(f"{d1} 10:40")))
    return LongScenario(
        "scan_three_days",
        t(f"{d1} 00:00"),
        t("2026-07-09 00:00"),
        services=[
            ServiceProfile(
                "checkout",
                rps=20,
                phases=(
                    Phase(t(f"{d1} 10:00"), t(f"{d1} 10:15"), 0.3),
                    Phase(t(f"{d1} 10:25"), t(f"{d1} 10:40"), 0.3),
                ),
            ),
            ServiceProfile(
                "cart",
                rps=10,
                phases=(
                    Phase(t(f"{d1} 10:01"), t(f"{d1} 10:14"), 0.2),
                    Phase(t(f"{d1} 10:26"), t(f"{d1} 10:39"), 0.2),
                ),
            ),
            ServiceProfile(
                "payments",
                rps=15,
                phases=(Phase(t(f"{d2} 14:00"), t(f"{d2} 14:45"), 0.15, 1.2),),
            ),
            # 0.8 % failures: under the 1 % floor of the error-ratio threshold, so only
            # the logs (one error line per failed job) show the incident.
            ServiceProfile(
                "worker", rps=40, phases=(Phase(t(f"{d3} 09:00"), t(f"{d3} 09:30"), 0.008),)
            ),
        ],
        alerts=[
            AlertSpec("HighErrorRate", "checkout", storm),
            AlertSpec("HighErrorRate", "cart", storm_cart),
            AlertSpec("CheckoutDegraded", "checkout", storm, severity="page"),
            AlertSpec("HighErrorRate", "payments", ((t(f"{d2} 14:02"), t(f"{d2} 14:46")),)),
            AlertSpec(
                "HighLatency",
                "cart",
                ((t(f"{d2} 03:00"), t(f"{d2} 03:20")),),
                severity="warning",
                summary="p99 latency of {{ $labels.service }} above 500ms",
                description="Slow responses.",
                runbook_url="https://runbooks.example.com/high-latency",
            ),
        ],
        log_signatures=[
            *_standard_signatures("checkout")[:1],
            *_standard_signatures("payments")[:1],
            *_standard_signatures("cart")[2:3],
            LogSignature(
                key="worker-lease-lost",
                service="worker",
                template="Job {uuid} failed: lease lost after {n}ms",
                error_type="LeaseLostError",
                per_failures=1,
            ),
        ],
        scrape_interval=60,
        eval_interval=60,
        info_every_seconds=300,
        description="a 3-day scan window: a merged double alert storm, an outage, a logs-only incident",
    )


def scan_month() -> LongScenario:
    """Thirty days at a 5-minute scrape, four incidents and one warning-level alert."""
    m = "2026-08"
    return LongScenario(
        "scan_month",
        t(f"{m}-01 00:00"),
        t(f"{m}-31 00:00"),
        services=[
            ServiceProfile(
                "api",
                rps=20,
                phases=(
                    Phase(t(f"{m}-03 02:00"), t(f"{m}-03 02:40"), 0.2),
                    Phase(t(f"{m}-19 08:00"), t(f"{m}-19 08:30"), 0.5),
                ),
            ),
            ServiceProfile(
                "web",
                rps=30,
                phases=(
                    Phase(t(f"{m}-11 15:00"), t(f"{m}-11 16:00"), latency_seconds=2.0),
                    Phase(t(f"{m}-19 08:05"), t(f"{m}-19 08:25"), 0.1),
                ),
            ),
            ServiceProfile(
                "db", rps=10, phases=(Phase(t(f"{m}-27 22:00"), t(f"{m}-27 22:45"), 0.3),)
            ),
        ],
        alerts=[
            AlertSpec(
                "HighErrorRate",
                "api",
                (
                    (t(f"{m}-03 02:02"), t(f"{m}-03 02:41")),
                    (t(f"{m}-19 08:02"), t(f"{m}-19 08:31")),
                ),
            ),
            AlertSpec(
                "HighLatency",
                "web",
                ((t(f"{m}-11 15:03"), t(f"{m}-11 16:01")),),
                for_seconds=120,
                summary="p99 latency of {{ $labels.service }} above 1s",
                description="Slow responses.",
                runbook_url="https://runbooks.example.com/high-latency",
            ),
            AlertSpec(
                "HighErrorRate", "db", ((t(f"{m}-27 22:02"), t(f"{m}-27 22:46")),), severity="page"
            ),
            AlertSpec(
                "HighErrorRate",
                "web",
                ((t(f"{m}-15 12:00"), t(f"{m}-15 12:30")),),
                severity="warning",
            ),
        ],
        scrape_interval=300,
        eval_interval=60,
        info_every_seconds=3600,
        description="a 30-day scan window with four incidents",
    )


#: Long-window scenarios for scheduled mode, kept out of SCENARIOS (and so out of the
#: shared session Prometheus): tests/cli/test_scan.py backfills them into its own server.
SCAN_SCENARIOS: dict[str, Callable[[], Scenario]] = {
    "scan_three_days": scan_three_days,
    "scan_month": scan_month,
}
