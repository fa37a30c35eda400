"""The benchmark's production-like data: metrics as OpenMetrics, logs as Elasticsearch bulk bodies.

Both are generated from one declaration (:class:`Dataset`): a span of days ending at a fixed
instant, a set of services with diurnal traffic, one main incident in the last day (a payments
deploy slows the gateway, checkout fails, a rollback fixes it) and two minor ones earlier. The
conventions are those of ``tests/scenarios.py`` (``http_requests_total{service,code}``, a classic
latency histogram, ``up{job}``, ``ALERTS``/``ALERTS_FOR_STATE`` on the evaluation grid, ECS log
fields), but the samples are computed with numpy and streamed to disk: a week of 300 series at
15 s is 12 million samples, far too many for the scenario generator's Python lists.

Everything is deterministic (fixed seeds): a cache key of the parameters names the files.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import random
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import IO, Any

import numpy as np

UTC = dt.timezone.utc
#: Bump when the generated data changes, so cached data is regenerated.
GENERATOR_VERSION = 1
#: The data ends here (in the past, so ``--to`` is never in the future).
END = dt.datetime(2026, 6, 8, tzinfo=UTC)
BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, math.inf)
LATENCY_SIGMA = 0.35  # spread of request latencies around a step's median (log-normal)
SERVICE_NAMES = (
    "checkout",
    "payments",
    "cart",
    "catalog",
    "search",
    "inventory",
    "shipping",
    "auth",
    "profile",
    "orders",
    "recommendations",
    "reviews",
    "pricing",
    "notifications",
    "gateway",
    "billing",
    "ledger",
    "media",
    "analytics",
)
#: Series per service: 4 status codes, 9 buckets, _sum, _count, up.
SERIES_PER_SERVICE = 16


@dataclass(frozen=True)
class Degradation:
    """A service is degraded over ``[start, end)`` (offsets from the data's end, in seconds)."""

    service: str
    start: float
    end: float
    error_ratio: float | None = None
    latency: float | None = None


@dataclass(frozen=True)
class AlertDef:
    """An alert active over ``[start, end)`` (offsets from the data's end): pending, then firing."""

    name: str
    service: str
    start: float
    end: float
    for_seconds: int = 60
    severity: str = "critical"
    summary: str = "More than 5% of {{ $labels.service }} requests fail"


@dataclass(frozen=True)
class LogBurst:
    """Error logs of a new signature while ``service`` is degraded (``per_minute`` at 1 M docs/week)."""

    service: str
    start: float
    end: float
    template: str
    error_type: str
    per_minute: float


H = 3600.0
# The main incident: 2026-06-07 14:05–14:45 UTC, i.e. 9h55m before the data's end.
INC = -(9 * H + 55 * 60)


def main_incident() -> tuple[list[Degradation], list[AlertDef], list[LogBurst], list[tuple]]:
    """The incident every window contains: degradations, alerts, new log signatures, changes."""
    degr = [
        Degradation("payments", INC, INC + 40 * 60, error_ratio=0.12, latency=2.2),
        Degradation("checkout", INC, INC + 40 * 60, error_ratio=0.31, latency=0.9),
    ]
    alerts = [
        AlertDef(
            "PaymentsHighLatency",
            "payments",
            INC + 60,
            INC + 43 * 60,
            for_seconds=120,
            severity="warning",
            summary="p99 latency of {{ $labels.service }} above 1s",
        ),
        AlertDef("CheckoutHighErrorRate", "checkout", INC + 120, INC + 43 * 60),
    ]
    bursts = [
        LogBurst(
            "checkout",
            INC,
            INC + 40 * 60,
            "Payment gateway timed out after {n}ms for order {uuid}",
            "GatewayTimeoutError",
            per_minute=60.0,
        ),
        LogBurst(
            "payments",
            INC,
            INC + 40 * 60,
            "TLS handshake with acquirer 10.20.3.{n3} failed: certificate chain too long",
            "SSLHandshakeError",
            per_minute=25.0,
        ),
    ]
    changes = [
        (INC - 3 * 60, "payments", "deploy", "3.2.0", "ci-bot"),
        (INC + 36 * 60, "payments", "rollback", "3.1.4", "alice"),
    ]
    return degr, alerts, bursts, changes


def minor_incidents(days: float) -> tuple[list[Degradation], list[AlertDef]]:
    """Two short incidents on earlier days (only when the data spans them)."""
    degr: list[Degradation] = []
    alerts: list[AlertDef] = []
    s1 = -(4 * 86400 + 14 * H + 40 * 60)  # 2026-06-03 09:20
    if days * 86400 >= -s1 + H:
        degr.append(Degradation("search", s1, s1 + 15 * 60, latency=0.7))
        alerts.append(
            AlertDef(
                "SearchHighLatency",
                "search",
                s1 + 120,
                s1 + 16 * 60,
                for_seconds=120,
                severity="warning",
                summary="p99 latency of {{ $labels.service }} above 500ms",
            )
        )
    s2 = -(2 * 86400 + 1 * H + 50 * 60)  # 2026-06-05 22:10
    if days * 86400 >= -s2 + H:
        degr.append(Degradation("inventory", s2, s2 + 20 * 60, error_ratio=0.08))
        alerts.append(AlertDef("InventoryHighErrorRate", "inventory", s2 + 120, s2 + 21 * 60))
    return degr, alerts


@dataclass
class Dataset:
    """What to generate: ``days`` of data ending at :data:`END`, ``services`` services, ``docs`` logs."""

    days: float = 7.0
    services: int = 19
    scrape: int = 15
    seed: int = 20260607
    rps_min: float = 20.0
    rps_max: float = 300.0
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def end(self) -> dt.datetime:
        return END

    @property
    def start(self) -> dt.datetime:
        return END - dt.timedelta(days=self.days)

    @property
    def service_names(self) -> list[str]:
        names = list(SERVICE_NAMES[: self.services])
        for i in range(len(names), self.services):
            names.append(f"svc{i:03d}")
        return names

    @property
    def incident(self) -> tuple[dt.datetime, dt.datetime]:
        """The main incident's impact span."""
        return END + dt.timedelta(seconds=INC), END + dt.timedelta(seconds=INC + 40 * 60)

    def key(self, kind: str, **extra: Any) -> str:
        """A short hash of everything that shapes the ``kind`` data (cache directory names)."""
        params = {k: v for k, v in asdict(self).items() if k != "info"} | {
            "v": GENERATOR_VERSION,
            "kind": kind,
            **extra,
        }
        digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:10]
        return f"{kind}-{digest}"

    def degradations(self) -> list[Degradation]:
        degr, _, _, _ = main_incident()
        minor, _ = minor_incidents(self.days)
        names = set(self.service_names)
        return [d for d in degr + minor if d.service in names]

    def alerts(self) -> list[AlertDef]:
        _, alerts, _, _ = main_incident()
        _, minor = minor_incidents(self.days)
        names = set(self.service_names)
        return [a for a in alerts + minor if a.service in names]

    def window(self, seconds: float) -> tuple[dt.datetime, dt.datetime]:
        """A window of ``seconds`` that holds the main incident.

        Up to 2 h: from 15 minutes before the impact; longer: the last ``seconds`` of data.
        """
        if seconds > self.days * 86400 + 1e-6:
            raise ValueError(
                f"a {seconds / 3600:g} h window does not fit in {self.days:g} days of data"
            )
        if seconds <= 2 * H:
            start = self.incident[0] - dt.timedelta(minutes=15)
            return start, start + dt.timedelta(seconds=seconds)
        return END - dt.timedelta(seconds=seconds), END

    # ------------------------------------------------------------------ metrics

    def rules_yaml(self, interval: int = 15) -> str:
        """Alerting rules named like the synthetic alerts, so /api/v1/rules has their annotations."""
        import yaml

        rules = []
        seen: set[str] = set()
        for a in self.alerts():
            if a.name in seen:
                continue
            seen.add(a.name)
            if "Latency" in a.name:
                expr = (
                    "histogram_quantile(0.99, sum by (service, le) "
                    "(rate(http_request_duration_seconds_bucket[1m]))) > 1"
                )
            else:
                expr = (
                    'sum by (service) (rate(http_requests_total{code=~"5.."}[1m])) '
                    "/ sum by (service) (rate(http_requests_total[1m])) > 0.05"
                )
            rules.append(
                {
                    "alert": a.name,
                    "expr": expr,
                    "for": f"{a.for_seconds}s",
                    "labels": {"severity": a.severity},
                    "annotations": {
                        "summary": a.summary,
                        "runbook_url": f"https://runbooks.example.com/{a.name.lower()}",
                    },
                }
            )
        group = {"name": "pmrecon-bench", "interval": f"{interval}s", "rules": rules}
        return yaml.safe_dump({"groups": [group]}, sort_keys=False)

    def write_openmetrics(self, out: IO[str]) -> dict[str, int]:
        """Stream every series to ``out`` (seconds timestamps, each series in time order, ``# EOF``)."""
        t0 = int(self.start.timestamp())
        t1 = int(END.timestamp())
        ticks = np.arange(t0, t1 + 1, self.scrape, dtype=np.int64)
        tick_list = ticks.tolist()
        rng = np.random.default_rng(self.seed)
        series = samples = 0
        degr = self.degradations()
        names = self.service_names
        for i, name in enumerate(names):
            rps = self.rps_min * (self.rps_max / self.rps_min) ** (i / max(1, len(names) - 1))
            base_ratio = 0.0005 + 0.0015 * ((i * 7) % 5) / 4
            base_latency = 0.04 + 0.08 * ((i * 3) % 7) / 6
            cols = _service_columns(
                rng, ticks, self.scrape, rps, base_ratio, base_latency, degr, name, END
            )
            for metric, labels, values in cols:
                body = ",".join(f'{k}="{v}"' for k, v in labels.items())
                head = f"{metric}{{{body}}} "
                out.write("".join(f"{head}{v} {x}\n" for v, x in zip(values, tick_list)))
                series += 1
                samples += len(tick_list)
        e = 15  # evaluation interval of the synthetic rules
        for a in self.alerts():
            svc = a.service
            labels = {
                "alertname": a.name,
                "instance": f"{svc}-0:8080",
                "job": svc,
                "service": svc,
                "severity": a.severity,
            }
            first = -(-int(END.timestamp() + a.start) // e) * e
            last = int(END.timestamp() + a.end)
            alert_ticks = [x for x in range(first, last, e) if t0 <= x <= t1]
            fire_at = first + a.for_seconds
            for state, xs in (
                ("pending", [x for x in alert_ticks if x < fire_at]),
                ("firing", [x for x in alert_ticks if x >= fire_at]),
            ):
                if xs:
                    body = ",".join(
                        f'{k}="{v}"' for k, v in {**labels, "alertstate": state}.items()
                    )
                    out.write("".join(f"ALERTS{{{body}}} 1 {x}\n" for x in xs))
                    series += 1
                    samples += len(xs)
            if alert_ticks:
                body = ",".join(f'{k}="{v}"' for k, v in labels.items())
                out.write("".join(f"ALERTS_FOR_STATE{{{body}}} {first} {x}\n" for x in alert_ticks))
                series += 1
                samples += len(alert_ticks)
        out.write("# EOF\n")
        return {"series": series, "samples": samples}

    # ------------------------------------------------------------------ logs

    def log_chunks(
        self, docs: int, index_prefix: str, chunk_docs: int = 20000
    ) -> Iterator[tuple[bytes, int]]:
        """Bulk request bodies (``index`` actions into daily indices), about ``chunk_docs`` docs each.

        ``docs`` background documents spread over the span (diurnal, weighted by service
        traffic), plus the incident's error bursts (scaled with ``docs``) and change events.
        """
        return _LogGenerator(self, docs, index_prefix).chunks(chunk_docs)


def _erf(x: np.ndarray) -> np.ndarray:
    """Abramowitz–Stegun 7.1.26 (error below 1.5e-7): numpy has no erf."""
    sign = np.sign(x)
    ax = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * ax)
    poly = t * (
        0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    return np.asarray(sign * (1.0 - poly * np.exp(-ax * ax)))


def _diurnal(epoch: np.ndarray) -> np.ndarray:
    """Traffic shape over a day: low at 04:00 UTC, high at 16:00 (between 0.55 and 1.45)."""
    hours = (epoch % 86400) / 3600.0
    return np.asarray(1.0 + 0.45 * np.sin((hours - 10.0) / 24.0 * 2 * math.pi))


def _service_columns(
    rng: np.random.Generator,
    ticks: np.ndarray,
    scrape: int,
    rps: float,
    base_ratio: float,
    base_latency: float,
    degr: list[Degradation],
    name: str,
    end: dt.datetime,
) -> list[tuple[str, dict[str, str], list[Any]]]:
    """One service's 16 series as cumulative counters (lists of ints/floats aligned with ticks)."""
    n = len(ticks)
    expected = rps * scrape * _diurnal(ticks) * rng.lognormal(0.0, 0.05, n)
    total = rng.poisson(expected).astype(np.int64)
    total[0] = 0
    # state in force over the step ending at each tick (t - scrape, t]
    at = ticks - scrape
    ratio = np.full(n, base_ratio)
    latency = np.full(n, base_latency)
    e = end.timestamp()
    for d in degr:
        if d.service != name:
            continue
        inside = (at >= e + d.start) & (at < e + d.end)
        if d.error_ratio is not None:
            ratio[inside] = d.error_ratio
        if d.latency is not None:
            latency[inside] = d.latency
    bad = rng.binomial(total, ratio)
    c503 = bad // 3
    c500 = bad - c503
    c404 = rng.binomial(total - bad, 0.01)
    c200 = total - bad - c404
    out: list[tuple[str, dict[str, str], list[Any]]] = []
    for code, inc in (("200", c200), ("404", c404), ("500", c500), ("503", c503)):
        out.append(
            ("http_requests_total", {"service": name, "code": code}, np.cumsum(inc).tolist())
        )
    log_m = np.log(latency)
    for b in BUCKETS:
        if math.isinf(b):
            inc = total
            le = "+Inf"
        else:
            cdf = 0.5 * (1.0 + _erf((math.log(b) - log_m) / (LATENCY_SIGMA * math.sqrt(2))))
            inc = np.floor(total * cdf + 0.5).astype(np.int64)
            le = repr(b)
        out.append(
            (
                "http_request_duration_seconds_bucket",
                {"service": name, "le": le},
                np.cumsum(inc).tolist(),
            )
        )
    mean = latency * math.exp(LATENCY_SIGMA**2 / 2)
    sums = np.round(np.cumsum(total * mean), 3)
    out.append(("http_request_duration_seconds_sum", {"service": name}, sums.tolist()))
    out.append(
        ("http_request_duration_seconds_count", {"service": name}, np.cumsum(total).tolist())
    )
    out.append(("up", {"job": name, "instance": f"{name}-0:8080"}, [1] * n))
    return out


# --------------------------------------------------------------------------- logs

LOG_MAPPING: dict[str, Any] = {
    "dynamic": "false",
    "properties": {
        "@timestamp": {"type": "date"},
        "log": {"properties": {"level": {"type": "keyword"}}},
        "message": {
            "type": "text",
            "fields": {"keyword": {"type": "keyword", "ignore_above": 256}},
        },
        "service": {"properties": {"name": {"type": "keyword"}, "version": {"type": "keyword"}}},
        "host": {"properties": {"name": {"type": "keyword"}}},
        "trace": {"properties": {"id": {"type": "keyword"}}},
        "user": {"properties": {"id": {"type": "keyword"}, "name": {"type": "keyword"}}},
        "event": {"properties": {"category": {"type": "keyword"}, "action": {"type": "keyword"}}},
        "error": {
            "properties": {
                "type": {"type": "keyword"},
                "message": {
                    "type": "text",
                    "fields": {"keyword": {"type": "keyword", "ignore_above": 256}},
                },
            }
        },
        "http": {
            "properties": {
                "response": {"properties": {"status_code": {"type": "integer"}}},
                "request": {"properties": {"method": {"type": "keyword"}}},
            }
        },
        "url": {"properties": {"path": {"type": "keyword"}}},
        "tags": {"type": "keyword"},
    },
}

#: Background error signatures, present all week (so never "new").
OLD_ERRORS = (
    ("Connection reset by peer while calling {dep} after {n}ms", "ConnectionResetError"),
    ("Redis command GET session:{hex} timed out after {n}ms", "RedisTimeoutError"),
    ("Retry budget exhausted for {dep} ({n3} attempts)", "RetryBudgetExceeded"),
)
WARNINGS = (
    "Cache lookup took {n}ms for key session:{hex}",
    "Slow query on {dep}: {n}ms",
    "Legacy endpoint /v1/cart called by client {hex} ({n3} calls today)",
)
LEVELS = ("debug", "info", "warn", "error")
LEVEL_P = (0.06, 0.90, 0.03, 0.01)


class _LogGenerator:
    def __init__(self, ds: Dataset, docs: int, prefix: str) -> None:
        self.ds = ds
        self.docs = docs
        self.prefix = prefix
        self.rng = random.Random(ds.seed + docs)
        self.np = np.random.default_rng(ds.seed + docs)
        names = ds.service_names
        self.names = names
        weights = np.array(
            [(ds.rps_max / ds.rps_min) ** (i / max(1, len(names) - 1)) for i in range(len(names))]
        )
        self.service_p = weights / weights.sum()
        self.scale = docs / 1_000_000 * (7.0 / ds.days)  # bursts keep their share of the volume
        self.counts = {"docs": 0, "bytes": 0, "error": 0, "burst": 0, "changes": 0}

    def _fill(self, template: str) -> str:
        r = self.rng
        deps = ("postgres", "kafka", "redis", "payment-gateway", "s3", "ldap")
        return template.format(
            n=r.randint(100, 99999),
            n3=r.randint(1, 250),
            hex=f"0x{r.getrandbits(32):08x}",
            uuid=f"{r.getrandbits(32):08x}-{r.getrandbits(16):04x}-4{r.getrandbits(12):03x}-"
            f"{0x8000 | r.getrandbits(14):04x}-{r.getrandbits(48):012x}",
            dep=deps[r.randrange(len(deps))],
        )

    def _doc(
        self,
        epoch: float,
        svc: str,
        level: str,
        message: str,
        version: str | None = None,
        **extra: Any,
    ) -> str:
        r = self.rng
        when = dt.datetime.fromtimestamp(epoch, tz=UTC)
        stamp = when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"
        fields = [
            f'"@timestamp":"{stamp}"',
            f'"log":{{"level":"{level}"}}',
            f'"message":{json.dumps(message)}',
            f'"service":{{"name":"{svc}","version":"{version}"}}'
            if version
            else f'"service":{{"name":"{svc}"}}',
            f'"host":{{"name":"{svc}-{r.randrange(3)}"}}',
            f'"trace":{{"id":"{r.getrandbits(128):032x}"}}',
            f'"user":{{"id":"u{r.randrange(20000):05d}"}}',
        ]
        for key, value in extra.items():
            fields.append(f'"{key}":{value}')
        return "{" + ",".join(fields) + "}"

    def _index_line(self, epoch: float) -> str:
        day = dt.datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y.%m.%d")
        return f'{{"index":{{"_index":"{self.prefix}-{day}"}}}}'

    def _hour_docs(self, h0: float, count: int) -> list[tuple[float, str]]:
        out: list[tuple[float, str]] = []
        if count <= 0:
            return out
        times = (h0 + self.np.random(count) * 3600.0).tolist()
        svcs = self.np.choice(len(self.names), size=count, p=self.service_p).tolist()
        levels = self.np.choice(len(LEVELS), size=count, p=LEVEL_P).tolist()
        r = self.rng
        for x, si, li in zip(times, svcs, levels):
            svc = self.names[si]
            level = LEVELS[li]
            if level == "error":
                tpl, etype = OLD_ERRORS[r.randrange(len(OLD_ERRORS))]
                msg = self._fill(tpl)
                doc = self._doc(
                    x,
                    svc,
                    level,
                    msg,
                    error=f'{{"type":"{etype}","message":{json.dumps(msg)}}}',
                    event='{"category":"web"}',
                )
                self.counts["error"] += 1
            elif level == "warn":
                msg = self._fill(WARNINGS[r.randrange(len(WARNINGS))])
                doc = self._doc(x, svc, level, msg, event='{"category":"web"}')
            else:
                status = 200 if r.random() < 0.97 else 404
                path = f"/api/{svc}/items/{r.randint(1, 99999)}"
                msg = f"GET {path} {status} in {r.randint(2, 900)}ms"
                doc = self._doc(
                    x,
                    svc,
                    level,
                    msg,
                    http=f'{{"request":{{"method":"GET"}},"response":{{"status_code":{status}}}}}',
                    url=f'{{"path":"{path}"}}',
                    event='{"category":"web"}',
                )
            out.append((x, doc))
        return out

    def _bursts_in(self, h0: float, h1: float) -> list[tuple[float, str]]:
        out: list[tuple[float, str]] = []
        end = END.timestamp()
        _, _, bursts, changes = main_incident()
        for b in bursts:
            if b.service not in self.names:
                continue
            b0, b1 = end + b.start, end + b.end
            lo, hi = max(h0, b0), min(h1, b1)
            if hi <= lo:
                continue
            count = int(round(b.per_minute * self.scale * (hi - lo) / 60.0))
            for x in (lo + self.np.random(count) * (hi - lo)).tolist():
                msg = self._fill(b.template)
                out.append(
                    (
                        x,
                        self._doc(
                            x,
                            b.service,
                            "error",
                            msg,
                            error=f'{{"type":"{b.error_type}","message":{json.dumps(msg)}}}',
                            event='{"category":"web"}',
                        ),
                    )
                )
            self.counts["burst"] += count
        for off, svc, kind, version, actor in changes:
            x = end + off
            if svc in self.names and h0 <= x < h1:
                verb = "Deployed" if kind == "deploy" else "Rolled back"
                out.append(
                    (
                        x,
                        self._doc(
                            x,
                            svc,
                            "info",
                            f"{verb} {svc} to {version} by {actor}",
                            event=f'{{"category":"deployment","action":"{kind}"}}',
                            version=version,
                            tags=f'["deployment","{kind}"]',
                        ),
                    )
                )
                self.counts["changes"] += 1
        # routine deploys of other services, about three a day
        day0 = math.floor(h0 / 86400) * 86400
        for k, hour in enumerate((9.5, 13.25, 16.75)):
            x = day0 + hour * 3600
            if h0 <= x < h1:
                svc = self.names[(int(day0 // 86400) * 3 + k) % len(self.names)]
                if svc in ("payments", "checkout"):
                    continue
                version = f"1.{int(day0 // 86400) % 50}.{k}"
                out.append(
                    (
                        x,
                        self._doc(
                            x,
                            svc,
                            "info",
                            f"Deployed {svc} to {version} by ci-bot",
                            version=version,
                            event='{"category":"deployment","action":"deploy"}',
                            tags='["deployment","deploy"]',
                        ),
                    )
                )
                self.counts["changes"] += 1
        return out

    def chunks(self, chunk_docs: int) -> Iterator[tuple[bytes, int]]:
        t0, t1 = self.ds.start.timestamp(), END.timestamp()
        hours = int(math.ceil((t1 - t0) / 3600.0))
        starts = np.array([t0 + 3600.0 * h for h in range(hours)])
        shape = _diurnal(starts + 1800.0) * np.minimum(1.0, (t1 - starts) / 3600.0)
        per_hour = np.floor(self.docs * shape / shape.sum()).astype(np.int64)
        per_hour[: self.docs - int(per_hour.sum())] += 1  # exactly ``docs`` background docs
        lines: list[str] = []
        pending = 0
        for h in range(hours):
            h0 = float(starts[h])
            h1 = min(t1, h0 + 3600.0)
            docs = self._hour_docs(h0, int(per_hour[h]))
            docs.extend(self._bursts_in(h0, h1))
            docs.sort(key=lambda d: d[0])
            action = self._index_line(h0)  # hours never straddle midnight: one index per hour
            for _, doc in docs:
                lines.append(action)
                lines.append(doc)
            pending += len(docs)
            if pending >= chunk_docs or h == hours - 1:
                body = ("\n".join(lines) + "\n").encode()
                self.counts["docs"] += pending
                self.counts["bytes"] += len(body)
                yield body, pending
                lines, pending = [], 0
