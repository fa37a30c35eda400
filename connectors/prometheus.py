"""Prometheus (and API-compatible Thanos, Mimir, VictoriaMetrics): alerts and SLI series.

Alerts come from the raw samples of ``ALERTS``/``ALERTS_FOR_STATE`` (range selectors
evaluated at the window's end), never from ``query_range`` sampling: an alert resolved
at 10:00 then ends at its last sample plus one evaluation interval, not five minutes
later through the query lookback. SLIs are PromQL templates (from a preset or the
config) run once per service over the window and over the baseline, with a step that
keeps every series under Prometheus's 11,000-point limit. A long baseline is read at a
coarser step (at most :data:`BASELINE_MAX_POINTS` points, rate window as long as the step):
it only gives a reference level and a faint line under the graphs, and at the window's
step it would cost the server as much as the window itself.

Request counts (``requests_total``/``requests_bad``) are ``sum(increase(x[step]))`` at a
step of at least twice the scrape interval, so that summing them over an interval gives
``1 − Σbad/Σtotal`` as a ratio of sums. On Prometheus 2.x with samples on the step grid
this is exact; elsewhere ``increase()`` extrapolates at each step's edges and the sums are
close, not exact (Prometheus 3 ranges are left-open).

The HTTP client is prometheus-api-client's :class:`PrometheusConnect` (its session,
headers, auth, TLS and retry adapter); requests go through that session directly so
that the server's ``warnings``, its error text and the response size are kept.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import importlib.resources
import json
import math
import re
import statistics
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
import urllib3
import yaml
from prometheus_api_client import PrometheusConnect
from urllib3.util.retry import Retry

from connectors._common import error_reason, redact_url, settings_with_defaults
from connectors.base import CheckResult, CollectRequest, SourceContext
from connectors.promql import (
    MAX_POINTS,
    Raw,
    TemplateError,
    choose_step,
    format_duration,
    label_matcher,
    metric_names,
    nice_at_least,
    selector,
    string_literal,
    substitute,
)
from pmrecon.config import Key, parse_duration
from pmrecon.errors import ConfigError, ConnectorError
from pmrecon.model import (
    Alert,
    Evidence,
    Interval,
    QueryRecord,
    Series,
    SourceInfo,
    Warning,
    Window,
    utc,
)

PRESETS = ("http_requests_total", "micrometer", "ingress_nginx")
SLI_KINDS = ("error_ratio", "latency", "throughput", "requests_total", "requests_bad", "uptime")
UNITS = {
    "error_ratio": "ratio",
    "latency": "s",
    "throughput": "req/s",
    "requests_total": "requests",
    "requests_bad": "requests",
    "uptime": "ratio",
    "extra": "",
}
RETRY_STATUS = (429, 500, 502, 503, 504)
MAX_REDIRECTS = 3  # redirects followed, and only on the configured host
MAX_RESPONSE_BYTES = 256 * 1024 * 1024  # largest answer read (decoded), per request
BODY_CHUNK = 64 * 1024
DISABLED = ("", "off", "none", "false")
DEFAULT_INTERVAL = 60.0  # Prometheus's own default scrape and evaluation interval
#: Most points per baseline series. The baseline only gives a reference level (a mean or
#: a median) and a faint line under the graphs, so a long baseline is read at a coarser
#: step than the window, with a rate window as long as that step (contiguous coverage).
BASELINE_MAX_POINTS = 1500

SETTINGS_SCHEMA: dict[str, Any] = {
    "url": Key(
        "str",
        "http://127.0.0.1:9090",
        "base URL, with its path prefix if any (https://host/prometheus)",
    ),
    "headers": Key("dict", {}, "extra HTTP headers, e.g. X-Scope-OrgID for a Mimir/Cortex tenant"),
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
    "retries": Key(
        "int",
        2,
        "retries after a connection error, 429 or 5xx (never after other 4xx)",
        minimum=0,
        maximum=10,
    ),
    "retry_backoff": Key(
        "float", 0.5, "backoff factor between retries, in seconds", minimum=0, maximum=60
    ),
    "max_concurrency": Key("int", 4, "queries run at the same time", minimum=1, maximum=64),
    "preset": Key(
        "choice", "http_requests_total", "metric convention whose SLIs to use", choices=PRESETS
    ),
    "service_label": Key("str", None, "label naming a service (default: the preset's)"),
    "services": Key("list", [], "services to query (default: discovered in the window)"),
    "discover": Key(
        "str", None, "metric whose service_label values list the services (default: the preset's)"
    ),
    "quantiles": Key(
        "list", [0.5, 0.95, 0.99], "latency quantiles", items=Key("ratio", exclusive_minimum=0)
    ),
    "rate_window": Key(
        "duration",
        None,
        "range of rate() in SLIs (default: 4 × scrape interval, at least the step)",
        exclusive_minimum=0,
    ),
    "step": Key(
        "duration",
        None,
        "query step (default: adapted to the window, at least the scrape interval)",
        exclusive_minimum=0,
    ),
    # Fewer than 10 points cannot show a breach of a few consecutive steps.
    "max_points": Key(
        "int",
        MAX_POINTS,
        "most points per series (Prometheus refuses more than 11,000)",
        minimum=10,
        maximum=11_000,
    ),
    "scrape_interval": Key(
        "duration",
        None,
        "scrape interval when /api/v1/status/config is not served (Thanos, Mimir)",
        exclusive_minimum=0,
    ),
    "evaluation_interval": Key(
        "duration",
        None,
        "rule evaluation interval (default: the rule group's, else the global one)",
        exclusive_minimum=0,
    ),
    "slis": {
        kind: Key(
            "str", None, f"PromQL template of the {kind} SLI (overrides the preset; 'off' drops it)"
        )
        for kind in SLI_KINDS
    },
    "extra": Key(
        "dict", {}, "more series to graph: name -> PromQL template ($service, $window, $step)"
    ),
    "alerts": {
        "enabled": Key("bool", True, "read alert history from ALERTS / ALERTS_FOR_STATE"),
        "severities": Key("list", [], "keep only alerts with these severity labels (default: all)"),
        "alertname": Key(
            "str", None, "keep only alerts whose name matches this regular expression"
        ),
        "matchers": Key("dict", {}, "label -> value, or =~regex, !~regex, !=value"),
        "chunk": Key("duration", 86400, "longest range read by one raw-sample query", minimum=60),
    },
}

_TRANSIENT_STATUS = set(RETRY_STATUS)


# --------------------------------------------------------------------------- settings


def find_preset(name: str) -> Path:
    """The preset's YAML: in the installed package first, then in the checkout's ``config/presets``."""
    filename = f"{name}.yaml"
    try:
        candidate = (
            importlib.resources.files("pmrecon")
            .joinpath("config")
            .joinpath("presets")
            .joinpath(filename)
        )
        if candidate.is_file():
            return Path(str(candidate))
    except (ModuleNotFoundError, FileNotFoundError, NotADirectoryError):
        pass
    local = Path(__file__).resolve().parent.parent / "config" / "presets" / filename
    if local.is_file():
        return local
    raise ConfigError(f"preset {name!r} not found (known: {', '.join(PRESETS)}); reinstall pmrecon")


def load_preset(name: str) -> dict[str, Any]:
    path = find_preset(name)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("slis"), dict):
        raise ConfigError(f"preset {name!r} ({path}) is not a mapping with 'slis'")
    return data


# --------------------------------------------------------------------------- HTTP


class RequestFailed(ConnectorError):
    """One request failed; ``fatal`` when no other request can succeed (unreachable, auth, TLS)."""

    def __init__(self, message: str, kind: str, fatal: bool, status: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.fatal = fatal
        self.status = status


@dataclass
class _Answer:
    data: Any
    warnings: list[str]
    bytes: int
    duration: float


class HttpClient:
    """The PrometheusConnect session, used directly so warnings and error texts are kept.

    Also serves Alertmanager (``prometheus_client=False``: a plain session with the same
    auth, TLS and retry policy). Answers from a hostile or broken server are bounded:
    at most ``max_bytes`` read, the whole answer within the timeout (slow drips
    included), redirects followed only on the configured host.
    """

    max_bytes = MAX_RESPONSE_BYTES

    def __init__(self, name: str, s: dict[str, Any], *, prometheus_client: bool = True) -> None:
        self.name = name
        url = str(s["url"] or "").strip()
        if not re.match(r"^https?://", url):
            raise ConfigError(
                f"source {name!r}: url must start with http:// or https://, got {redact_url(url)!r}"
            )
        self.url = url.rstrip("/")
        self.shown_url = redact_url(self.url)
        self.timeout = float(s["timeout"])
        parts = urlsplit(self.url)
        # Scrubbed from every message; a value too short to be a real credential (a test
        # password "x") would only garble the messages.
        self.secrets = [
            str(v)
            for v in (s.get("bearer_token"), s.get("password"), parts.password)
            if v and len(str(v)) >= 4
        ]
        headers = {str(k): str(v) for k, v in (s.get("headers") or {}).items()}
        if s.get("bearer_token"):
            headers["Authorization"] = f"Bearer {s['bearer_token']}"
        auth = (s["username"], s.get("password") or "") if s.get("username") else None
        tls = s["tls"]
        session = requests.Session()
        session.verify = (
            tls["ca_file"] if (tls["verify"] and tls["ca_file"]) else bool(tls["verify"])
        )
        if tls["cert_file"]:
            session.cert = (
                (tls["cert_file"], tls["key_file"]) if tls["key_file"] else tls["cert_file"]
            )
        retries = int(s["retries"])
        retry = Retry(
            total=retries,
            connect=retries,
            read=0,  # a read timeout is a slow query: repeating it only adds load
            status=retries,
            other=0,
            backoff_factor=float(s["retry_backoff"]),
            status_forcelist=RETRY_STATUS,
            allowed_methods=frozenset({"GET", "POST"}),
            raise_on_status=False,
            respect_retry_after_header=True,
        )
        self.headers: dict[str, str] | None = headers or None
        self.auth = auth
        self.client: PrometheusConnect | None = None
        if prometheus_client:
            self.client = PrometheusConnect(
                url=self.url,
                headers=self.headers,
                retry=retry,
                auth=auth,
                session=session,
                timeout=int(math.ceil(self.timeout)),
            )
        else:
            session.mount(self.url, requests.adapters.HTTPAdapter(max_retries=retry))
        self.session = session

    def scrub(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return re.sub(r"//[^/@\s]*:[^/@\s]*@", "//***@", text)

    def call(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        method: str = "GET",
        context: str = "",
        timeout: float | None = None,
        envelope: bool = True,
    ) -> _Answer:
        """One API call; returns ``data`` or raises :class:`RequestFailed` with a one-line message."""
        where = f"source {self.name!r} ({self.shown_url})"
        ctx = f"; {context}" if context else ""
        url = f"{self.url}{path}"
        kwargs: dict[str, Any] = {"params": params} if method == "GET" else {"data": params}
        limit = timeout if timeout is not None else self.timeout
        started = time.monotonic()
        # The whole answer, redirects and body included, must arrive within ``limit``:
        # a server dripping one byte at a time never trips a per-read socket timeout.
        deadline = started + limit
        for _hop in range(MAX_REDIRECTS + 1):
            wait = max(0.05, deadline - time.monotonic())
            resp = self._send(method, url, kwargs, wait, limit, where, ctx)
            if not resp.is_redirect:
                break
            target = urljoin(url, resp.headers.get("location", ""))
            resp.close()
            if not _same_origin(target, self.url):
                # Credentials would follow the redirect, and the data would come from a
                # server nobody configured.
                raise RequestFailed(
                    self.scrub(
                        f"{where}: HTTP {resp.status_code} redirect to another host "
                        f"({redact_url(target)}) refused; set url to the address that serves the API{ctx}"
                    ),
                    "redirect",
                    True,
                    resp.status_code,
                )
            url = target
            if method == "GET":
                kwargs = {}  # the Location carries the query string
        else:
            raise RequestFailed(
                self.scrub(
                    f"{where}: more than {MAX_REDIRECTS} redirects for {path}; check the URL{ctx}"
                ),
                "redirect",
                True,
                resp.status_code,
            )
        body = self._read_body(resp, deadline, limit, where, path, ctx)
        return self._answer(resp, body, started, where, path, ctx, envelope)

    def _send(
        self,
        method: str,
        url: str,
        kwargs: dict[str, Any],
        wait: float,
        limit: float,
        where: str,
        ctx: str,
    ) -> requests.Response:
        """Send one request and read its headers within ``wait`` seconds (``limit`` is shown)."""
        try:
            return self.session.request(
                method,
                url,
                headers=self.headers,
                auth=self.auth,
                timeout=wait,
                verify=self.session.verify,
                cert=self.session.cert,
                allow_redirects=False,
                stream=True,
                **kwargs,
            )
        except requests.exceptions.SSLError as exc:
            raise RequestFailed(
                self.scrub(
                    f"{where}: TLS handshake failed ({error_reason(exc)}); check tls.ca_file, tls.cert_file or tls.verify{ctx}"
                ),
                "tls",
                True,
            ) from exc
        except requests.exceptions.ConnectTimeout as exc:
            raise RequestFailed(
                self.scrub(
                    f"{where}: connection timed out after {self.timeout:g}s; check the URL and the network{ctx}"
                ),
                "timeout",
                True,
            ) from exc
        except requests.exceptions.ReadTimeout as exc:
            raise RequestFailed(
                self.scrub(
                    f"{where}: timeout: no answer within {_secs(limit)}s; raise 'timeout' or shorten the window{ctx}"
                ),
                "timeout",
                False,
            ) from exc
        except requests.exceptions.ConnectionError as exc:
            text = repr(exc)
            if "ReadTimeoutError" in text or "Read timed out" in text:
                # with a retry policy, urllib3 reports a read timeout as a ConnectionError
                raise RequestFailed(
                    self.scrub(
                        f"{where}: timeout: no answer within {_secs(limit)}s; raise 'timeout' or shorten the window{ctx}"
                    ),
                    "timeout",
                    False,
                ) from exc
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
                host = urlsplit(self.url).hostname
                raise RequestFailed(
                    self.scrub(f"{where}: DNS: cannot resolve host {host!r}; check the URL{ctx}"),
                    "dns",
                    True,
                ) from exc
            raise RequestFailed(
                self.scrub(
                    f"{where}: unreachable: cannot connect ({error_reason(exc)}); check the URL and that the server is running{ctx}"
                ),
                "unreachable",
                True,
            ) from exc
        except requests.exceptions.RequestException as exc:
            raise RequestFailed(
                self.scrub(f"{where}: request failed ({error_reason(exc)}){ctx}"),
                "unreachable",
                True,
            ) from exc

    def _read_body(
        self,
        resp: requests.Response,
        deadline: float,
        limit: float,
        where: str,
        path: str,
        ctx: str,
    ) -> bytes:
        """The body, read in pieces: at most ``max_bytes``, and complete before ``deadline``."""
        cap = self.max_bytes
        too_big = RequestFailed(
            self.scrub(
                f"{where}: the answer to {path} is larger than {cap // (1024 * 1024)} MiB; "
                f"shorten the window or narrow the query{ctx}"
            ),
            "too_large",
            False,
            resp.status_code,
        )
        declared = resp.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap and "content-encoding" not in resp.headers:
            resp.close()
            raise too_big
        raw = resp.raw
        read = getattr(raw, "read1", None) or raw.read
        sock = getattr(getattr(raw, "connection", None), "sock", None)
        chunks: list[bytes] = []
        size = 0
        complete = False
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RequestFailed(
                        self.scrub(
                            f"{where}: timeout: the answer to {path} did not arrive within {_secs(limit)}s "
                            f"({size} bytes received); raise 'timeout' or shorten the window{ctx}"
                        ),
                        "timeout",
                        False,
                        resp.status_code,
                    )
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.settimeout(left)
                chunk = read(BODY_CHUNK, decode_content=True)
                if not chunk:
                    complete = True
                    break
                size += len(chunk)
                if size > cap:
                    raise too_big
                chunks.append(chunk)
        except (urllib3.exceptions.HTTPError, requests.exceptions.RequestException, OSError) as exc:
            text = repr(exc)
            if (
                isinstance(exc, (TimeoutError, urllib3.exceptions.TimeoutError))
                or "timed out" in text
            ):
                raise RequestFailed(
                    self.scrub(
                        f"{where}: timeout: the answer to {path} did not arrive within {_secs(limit)}s "
                        f"({size} bytes received); raise 'timeout' or shorten the window{ctx}"
                    ),
                    "timeout",
                    False,
                    resp.status_code,
                ) from exc
            raise RequestFailed(
                self.scrub(
                    f"{where}: the answer to {path} was cut short after {size} bytes "
                    f"({error_reason(exc)}); the server or a proxy closed the connection{ctx}"
                ),
                "truncated",
                False,
                resp.status_code,
            ) from exc
        finally:
            if complete:
                resp.raw.release_conn()  # read to the end: the connection can be reused
            else:
                resp.close()  # a connection in an unknown state is dropped
        return b"".join(chunks)

    def _answer(
        self,
        resp: requests.Response,
        body: bytes,
        started: float,
        where: str,
        path: str,
        ctx: str,
        envelope: bool,
    ) -> _Answer:
        """Map an HTTP answer to data, or to a RequestFailed saying what went wrong."""
        duration = time.monotonic() - started
        payload: Any = None
        malformed = False
        try:
            payload = json.loads(body) if body else None
        except ValueError:
            payload = None
            # JSON that does not parse (cut short, corrupted) is not the same failure as
            # an HTML login page (whatever its Content-Type): the first may work on the
            # next query, the second never will.
            malformed = body.lstrip()[:1] in (b"{", b"[")
        server_error = ""
        if isinstance(payload, dict) and payload.get("error"):
            server_error = f"{payload.get('errorType', 'error')}: {payload['error']}"
        status = resp.status_code
        if status in (401, 403):
            what = "authentication failed" if status == 401 else "access denied"
            raise RequestFailed(
                self.scrub(
                    f"{where}: {what} (HTTP {status}); check bearer_token or username/password"
                    f" (and the tenant header){ctx}"
                ),
                "auth",
                True,
                status,
            )
        if status == 404:
            raise RequestFailed(
                self.scrub(f"{where}: HTTP 404 for {path}; check the URL's path prefix{ctx}"),
                "not_found",
                False,
                status,
            )
        if 400 <= status < 500:
            detail = server_error or _snippet(body)
            kind = "bad_query" if status in (400, 422) else "http"
            label = "bad query" if kind == "bad_query" else f"HTTP {status}"
            raise RequestFailed(
                self.scrub(f"{where}: {label} (HTTP {status}): {detail}{ctx}"), kind, False, status
            )
        if status >= 500:
            detail = server_error or _snippet(body)
            is_timeout = isinstance(payload, dict) and payload.get("errorType") == "timeout"
            raise RequestFailed(
                self.scrub(
                    f"{where}: {'timeout: ' if is_timeout else ''}server error (HTTP {status}): {detail}{ctx}"
                ),
                "timeout" if is_timeout else "server",
                False,
                status,
            )
        if malformed:
            raise RequestFailed(
                self.scrub(
                    f"{where}: the answer to {path} is malformed JSON ({len(body)} bytes: {_snippet(body)[:80]}); "
                    f"the server or a proxy corrupted it{ctx}"
                ),
                "malformed",
                False,
                status,
            )
        if not envelope:
            if payload is None and body:
                raise RequestFailed(
                    self.scrub(
                        f"{where}: the answer to {path} is not JSON ({_snippet(body)}); check the URL{ctx}"
                    ),
                    "not_prometheus",
                    True,
                    status,
                )
            return _Answer(payload, [], len(body), duration)
        if not isinstance(payload, dict) or payload.get("status") != "success":
            detail = server_error or _snippet(body) or "empty answer"
            raise RequestFailed(
                self.scrub(
                    f"{where}: the answer to {path} is not the Prometheus API ({detail}); check the URL{ctx}"
                ),
                "not_prometheus",
                True,
                status,
            )
        warnings = [str(w) for w in payload.get("warnings") or []]
        return _Answer(payload.get("data"), warnings, len(body), duration)


def _secs(seconds: float) -> str:
    """Seconds for a message: ``1.5``, ``30``, ``2.9`` (never ``2.87234``)."""
    return f"{round(seconds, 1):g}"


def _same_origin(url: str, base: str) -> bool:
    """Same scheme, host and port (default ports filled in)."""
    try:
        a, b = urlsplit(url), urlsplit(base)
        ports = {"http": 80, "https": 443}
        return (
            a.scheme == b.scheme
            and (a.hostname or "") == (b.hostname or "")
            and (a.port or ports.get(a.scheme)) == (b.port or ports.get(b.scheme))
        )
    except ValueError:
        return False


def _snippet(body: bytes) -> str:
    text = body.decode("utf-8", "replace")
    text = re.sub(r"<[^>]+>", " ", text)
    return " ".join(text.split())[:200]


# --------------------------------------------------------------------------- jobs


@dataclass
class _Job:
    """One query to run: what it is for, the PromQL, and where its result goes."""

    purpose: str
    query: str
    kind: str
    service: str
    name: str
    start: float
    end: float
    step: float
    baseline: bool = False
    quantile: float | None = None
    record: QueryRecord | None = None
    result: Any = None
    error: RequestFailed | None = None
    series: list[Series] = field(default_factory=list)
    warnings: list[Warning] = field(default_factory=list)


class PrometheusSource:
    """A Prometheus-compatible server as a :class:`connectors.base.MetricsSource`."""

    kind = "prometheus"

    def __init__(
        self, name: str, settings: Mapping[str, Any], context: SourceContext | None = None
    ) -> None:
        self.name = name
        self.context = context or SourceContext()
        self.settings = settings_with_defaults(
            SETTINGS_SCHEMA, dict(settings or {}), f"sources.{name}"
        )
        s = self.settings
        self.http = HttpClient(name, s)
        self.preset = load_preset(s["preset"]) if s["preset"] else {"slis": {}}
        self.service_label = s["service_label"] or self.preset.get("service_label") or "service"
        self.templates: dict[str, str] = {}
        for kind in SLI_KINDS:
            user = s["slis"].get(kind)
            tpl = user if user is not None else self.preset["slis"].get(kind)
            if tpl and str(tpl).strip().lower() not in DISABLED:
                self.templates[kind] = " ".join(str(tpl).split())
        self.extra = {str(k): " ".join(str(v).split()) for k, v in (s["extra"] or {}).items()}
        self._queries: list[QueryRecord] = []
        self._query_seq = 0
        self._info: dict[str, Any] | None = None
        self._deadline: float | None = None

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
        self._queries = []
        self._query_seq = 0
        self._info = None
        self._deadline = request.deadline
        warnings: list[Warning] = []
        info = self._server_info(warnings)
        window = request.window
        w0, w1 = window.start.timestamp(), window.end.timestamp()
        scrape = float(
            self.settings["scrape_interval"] or info.get("scrape_interval") or DEFAULT_INTERVAL
        )
        max_points = (
            int(self.settings["max_points"])
            if not request.coarse
            else min(600, int(self.settings["max_points"]))
        )
        step = float(self.settings["step"] or choose_step(w1 - w0, scrape, max_points))
        if (w1 - w0) / step + 1 > max_points:  # a configured step too fine for a long window
            step = float(choose_step(w1 - w0, step, max_points))
        count_step = float(nice_at_least(max(step, 2 * scrape)))
        rate_window = float(self.settings["rate_window"] or nice_at_least(max(4 * scrape, step)))

        alerts: list[Alert] = []
        if self.settings["alerts"]["enabled"]:
            alerts = self._collect_alerts(window, info, warnings, request.services)

        services = list(request.services) or [str(x) for x in self.settings["services"] or []]
        if not services:
            services = self._discover(window, warnings)

        jobs: list[_Job] = []
        spans = [(w0, w1, False, step, count_step, rate_window)]
        base_step = step
        if request.baseline is not None and not request.coarse:
            b0, b1 = request.baseline.start.timestamp(), request.baseline.end.timestamp()
            base_step = float(choose_step(b1 - b0, step, min(max_points, BASELINE_MAX_POINTS)))
            if base_step == step:
                spans.append((b0, b1, True, step, count_step, rate_window))
            else:
                spans.append(
                    (
                        b0,
                        b1,
                        True,
                        base_step,
                        float(nice_at_least(max(base_step, 2 * scrape))),
                        max(rate_window, base_step),
                    )
                )
        quantiles = sorted(float(q) for q in self.settings["quantiles"] or [0.99])
        if request.coarse:
            quantiles = quantiles[-1:]
        for a, b, is_base, st, cst, rw in spans:
            for svc in services:
                jobs.extend(self._sli_jobs(svc, a, b, st, cst, rw, quantiles, is_base, warnings))
        self._run(jobs)

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

        source = SourceInfo(
            name=self.name,
            kind=self.kind,
            url=self.http.shown_url,
            version=info.get("version"),
            settings={
                "scrape_interval": scrape,
                "evaluation_interval": info.get("evaluation_interval"),
                "step": step,
                "baseline_step": base_step,
                "count_step": count_step,
                "rate_window": rate_window,
                "preset": self.settings["preset"],
                "service_label": self.service_label,
                "services": services,
                "server": info.get("flavour"),
                "headers": sorted(self.settings["headers"] or {}),
            },
            queries=list(self._queries),
        )
        return Evidence(
            window=window,
            baseline=request.baseline,
            alerts=alerts,
            series=series,
            sources=[source],
            warnings=warnings,
        )

    def check(self) -> list[CheckResult]:
        """Reachability, authentication, version, intervals and each configured metric."""
        out: list[CheckResult] = []
        url = self.http.shown_url
        self._info = None
        self._deadline = None
        try:
            answer = self._call("/api/v1/status/buildinfo", purpose="check: buildinfo")
        except RequestFailed as exc:
            if exc.kind == "not_found":
                try:
                    self._call("/api/v1/query", {"query": "1"}, purpose="check: query")
                except RequestFailed as exc2:
                    return out + self._check_failure(exc2)
                out.append(CheckResult(self.name, "reachable", True, f"{url} answers PromQL"))
                out.append(CheckResult(self.name, "authenticated", True, "queries accepted"))
                out.append(
                    CheckResult(
                        self.name,
                        "version",
                        True,
                        "unknown (no /api/v1/status/buildinfo: Thanos, Mimir or VictoriaMetrics?)",
                    )
                )
            else:
                return out + self._check_failure(exc)
        else:
            out.append(CheckResult(self.name, "reachable", True, f"{url} answers"))
            out.append(CheckResult(self.name, "authenticated", True, "API calls accepted"))
            version = (answer.data or {}).get("version") if isinstance(answer.data, dict) else None
            major = _major(version)
            ok = major is None or major >= 2
            out.append(
                CheckResult(
                    self.name,
                    "version",
                    ok,
                    f"Prometheus {version}" if version else "unknown",
                    "" if ok else "pmrecon needs the Prometheus 2.x or 3.x HTTP API",
                )
            )
        try:
            info = self._server_info()
        except ConnectorError as exc:
            return [*out, CheckResult(self.name, "intervals", False, str(exc), "see the message")]
        scrape = info.get("scrape_interval")
        out.append(
            CheckResult(
                self.name,
                "intervals",
                True,
                f"scrape {scrape:g}s, evaluation {info.get('evaluation_interval') or DEFAULT_INTERVAL:g}s"
                if scrape
                else "server configuration not served; using the scrape_interval setting or 60s",
                "" if scrape else "set scrape_interval in this source's settings",
            )
        )
        for metric in self.configured_metrics():
            q = f"count(last_over_time({{__name__={string_literal(metric)}}}[1h]))"
            try:
                ans = self._call("/api/v1/query", {"query": q}, purpose=f"check: metric {metric}")
            except RequestFailed as exc:
                out.append(
                    CheckResult(
                        self.name, f"metric {metric}", False, str(exc), "see the error above"
                    )
                )
                continue
            result = (ans.data or {}).get("result") or []
            count = int(float(result[0]["value"][1])) if result else 0
            out.append(
                CheckResult(
                    self.name,
                    f"metric {metric}",
                    count > 0,
                    f"{count} series in the last hour",
                    ""
                    if count
                    else f"no series named {metric} in the last hour: check the preset "
                    f"({self.settings['preset']}) or the SLI templates, and that the service is scraped",
                )
            )
        return out

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

    # ------------------------------------------------------------------ internals

    def _check_failure(self, exc: RequestFailed) -> list[CheckResult]:
        fixes = {
            "unreachable": "check the URL and that the server is running and reachable from here",
            "dns": "check the host name in the URL",
            "tls": "set tls.ca_file to the CA that signed the server certificate, or tls.verify: false",
            "timeout": "check the network, or raise this source's timeout",
            "auth": "set bearer_token or username/password (from environment variables)",
            "not_prometheus": "the URL does not point at a Prometheus API; check its path prefix",
        }
        reachable = exc.kind in (
            "auth",
            "not_prometheus",
            "not_found",
            "bad_query",
            "http",
            "server",
        )
        out = [
            CheckResult(
                self.name,
                "reachable",
                reachable,
                str(exc) if not reachable else "answers",
                fixes.get(exc.kind, "") if not reachable else "",
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

    def _remaining(self) -> float | None:
        if self._deadline is None:
            return None
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise ConnectorError(
                f"source {self.name!r}: time limit reached before all queries ran; raise 'timeout' or shorten the window"
            )
        return min(left, self.http.timeout)

    def _next_id(self) -> str:
        self._query_seq += 1
        return f"{self.name}:q{self._query_seq}"

    def _call(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        purpose: str,
        method: str = "GET",
        query: str | None = None,
        record: QueryRecord | None = None,
        context: str = "",
    ) -> _Answer:
        """One call, recorded as a QueryRecord (also when it fails)."""
        if record is None:
            record = QueryRecord(
                id=self._next_id(),
                source=self.name,
                purpose=purpose,
                query=query or "",
                endpoint=path,
            )
            self._queries.append(record)
        started = time.monotonic()
        try:
            answer = self.http.call(
                path, params, method=method, context=context, timeout=self._remaining()
            )
        except RequestFailed as exc:
            record.duration_seconds = round(time.monotonic() - started, 4)
            record.warnings.append(str(exc))
            raise
        record.duration_seconds = round(answer.duration, 4)
        record.bytes_received = answer.bytes
        record.warnings.extend(answer.warnings)
        data = answer.data
        if isinstance(data, dict) and isinstance(data.get("result"), list):
            record.result_count = len(data["result"])
        return answer

    def _server_info(self, warnings: list[Warning] | None = None) -> dict[str, Any]:
        """Version, intervals and rules; an unreachable server raises ConnectorError here."""
        if self._info is not None:
            return self._info
        info: dict[str, Any] = {"rules": {}}
        warn = warnings if warnings is not None else []
        try:
            ans = self._call("/api/v1/status/buildinfo", purpose="server version")
            if isinstance(ans.data, dict):
                info["version"] = ans.data.get("version")
                info["flavour"] = "prometheus"
        except RequestFailed as exc:
            if exc.fatal or exc.kind == "timeout":
                raise ConnectorError(str(exc)) from exc
            # Thanos, Mimir, VictoriaMetrics: no buildinfo; prove the API answers at all
            try:
                self._call(
                    "/api/v1/query",
                    {"query": "vector(1)"},
                    purpose="reachability",
                    query="vector(1)",
                )
            except RequestFailed as exc2:
                raise ConnectorError(str(exc2)) from exc2
        try:
            ans = self._call("/api/v1/status/config", purpose="scrape and evaluation intervals")
            text = ans.data.get("yaml", "") if isinstance(ans.data, dict) else ""
            conf = yaml.safe_load(text) or {}
            glob = conf.get("global") or {}
            for key in ("scrape_interval", "evaluation_interval"):
                if glob.get(key):
                    info[key] = parse_duration(_go_duration(str(glob[key])))
        except (RequestFailed, yaml.YAMLError, ValueError, AttributeError) as exc:
            if isinstance(exc, RequestFailed) and exc.fatal:
                raise ConnectorError(str(exc)) from exc
            if not self.settings["scrape_interval"]:
                warn.append(
                    Warning(
                        self.name,
                        f"source {self.name!r}: server configuration not available ({_short(exc)}); "
                        f"assuming a {DEFAULT_INTERVAL:g}s scrape interval: set scrape_interval in the settings",
                        code="no_server_config",
                    )
                )
        for key in ("scrape_interval", "evaluation_interval"):
            if self.settings[key]:
                info[key] = float(self.settings[key])
        try:
            ans = self._call(
                "/api/v1/rules", {"type": "alert"}, purpose="alerting rules (annotations)"
            )
            for group in (ans.data or {}).get("groups") or []:
                interval = group.get("interval")
                for rule in group.get("rules") or []:
                    if rule.get("type", "alerting") != "alerting":
                        continue
                    info["rules"].setdefault(rule.get("name"), []).append(
                        {
                            "labels": rule.get("labels") or {},
                            "annotations": rule.get("annotations") or {},
                            "interval": float(interval) if interval else None,
                        }
                    )
        except RequestFailed as exc:
            if exc.fatal:
                raise ConnectorError(str(exc)) from exc
            warn.append(
                Warning(
                    self.name,
                    f"source {self.name!r}: alerting rules not available ({_short(exc)}); alerts will have no annotations",
                    code="no_rules",
                )
            )
        self._info = info
        return info

    # ------------------------------------------------------------------ alerts

    def _alert_matchers(self) -> list[str]:
        """Label matchers from the ``alerts`` filters (severities, alertname regex, matchers)."""
        a = self.settings["alerts"]
        out: list[str] = []
        if a["alertname"]:
            out.append(label_matcher("alertname", f"=~{a['alertname']}"))
        if a["severities"]:
            out.append(
                label_matcher(
                    "severity", "=~" + "|".join(re.escape(str(x)) for x in a["severities"])
                )
            )
        for label, spec in (a["matchers"] or {}).items():
            try:
                out.append(label_matcher(str(label), str(spec)))
            except TemplateError as exc:
                raise ConfigError(f"sources.{self.name}.alerts.matchers: {exc}") from None
        return out

    def _raw_samples(
        self, metric: str, window: Window, purpose: str
    ) -> tuple[dict[tuple[tuple[str, str], ...], dict[float, float]], str | None]:
        """Raw samples of ``metric{matchers}`` in the window, chunked; keyed by sorted labels."""
        matchers = self._alert_matchers()
        sel = selector(metric, matchers)
        chunk = max(60.0, float(self.settings["alerts"]["chunk"]))
        w0, w1 = window.start.timestamp(), window.end.timestamp()
        out: dict[tuple[tuple[str, str], ...], dict[float, float]] = {}
        first_ref: str | None = None
        at = w1
        while at > w0:
            span = min(chunk, at - w0)
            # one extra second: Prometheus 3 ranges are left-open; repeats are merged below
            q = f"{sel}[{format_duration(span + 1)}]"
            ans = self._call(
                "/api/v1/query",
                {"query": q, "time": _fmt_ts(at)},
                method="POST",
                purpose=purpose,
                query=q,
                context=f"query: {q}",
            )
            rec = self._queries[-1]
            rec.start, rec.end, rec.step_seconds = utc(at - span), utc(at), None
            first_ref = first_ref or rec.id
            data = ans.data or {}
            if data.get("resultType") != "matrix":
                raise RequestFailed(
                    f"source {self.name!r}: {purpose}: expected a matrix, got {data.get('resultType')!r}; query: {q}",
                    "bad_query",
                    False,
                )
            for item in data.get("result") or []:
                labels = tuple(
                    sorted((k, v) for k, v in (item.get("metric") or {}).items() if k != "__name__")
                )
                samples = out.setdefault(labels, {})
                for x, v in item.get("values") or []:
                    try:
                        samples[float(x)] = float(v)
                    except (TypeError, ValueError):
                        continue
            at -= span
        return out, first_ref

    def _collect_alerts(
        self,
        window: Window,
        info: dict[str, Any],
        warnings: list[Warning],
        services: tuple[str, ...],
    ) -> list[Alert]:
        try:
            alerts_raw, ref = self._raw_samples("ALERTS", window, "alerts (raw ALERTS samples)")
            for_state, _ = self._raw_samples(
                "ALERTS_FOR_STATE", window, "alert activation times (ALERTS_FOR_STATE)"
            )
        except RequestFailed as exc:
            if exc.fatal:
                raise ConnectorError(str(exc)) from exc
            warnings.append(
                Warning(
                    self.name, f"{exc}; alerts are missing from the evidence", code="alerts_failed"
                )
            )
            return []
        return build_alerts(
            alerts_raw,
            for_state,
            window,
            rules=info.get("rules") or {},
            default_eval=float(
                self.settings["evaluation_interval"] or info.get("evaluation_interval") or 0
            )
            or None,
            eval_override=bool(self.settings["evaluation_interval"]),
            services=services,
            service_label=self.service_label,
            source=self.name,
            query_ref=ref,
        )

    # ------------------------------------------------------------------ SLIs

    def _discover(self, window: Window, warnings: list[Warning]) -> list[str]:
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
        span = max(1.0, window.seconds)
        label = self.service_label
        q = f"count by ({label}) (count_over_time({metric}[{format_duration(span)}]))"
        try:
            ans = self._call(
                "/api/v1/query",
                {"query": q, "time": _fmt_ts(window.end.timestamp())},
                method="POST",
                purpose=f"discover services ({label} values of {metric})",
                query=q,
                context=f"query: {q}",
            )
        except RequestFailed as exc:
            if exc.fatal:
                raise ConnectorError(str(exc)) from exc
            warnings.append(Warning(self.name, str(exc), code="discovery_failed"))
            return []
        rec = self._queries[-1]
        rec.start, rec.end = window.start, window.end
        found = sorted(
            {
                str((r.get("metric") or {})[label])
                for r in (ans.data or {}).get("result") or []
                if (r.get("metric") or {}).get(label) is not None
            }
        )
        if not found:
            warnings.append(
                Warning(
                    self.name,
                    f"source {self.name!r}: no service found: no {metric} series with a {label!r} label in the window; "
                    f"run `pmrecon check` (query: {q})",
                    code="no_services",
                )
            )
        return [str(x) for x in found]

    def _sli_jobs(
        self,
        svc: str,
        a: float,
        b: float,
        step: float,
        count_step: float,
        rate_window: float,
        quantiles: list[float],
        is_base: bool,
        warnings: list[Warning],
    ) -> list[_Job]:
        jobs: list[_Job] = []
        start = math.ceil(a / step) * step
        end = math.floor(b / step) * step
        cstart = math.floor(a / count_step) * count_step + count_step
        cend = math.floor(b / count_step) * count_step
        values: dict[str, object] = {
            "service": svc,
            "window": Raw(format_duration(rate_window)),
            "step": Raw(format_duration(count_step)),
        }
        prefix = "baseline " if is_base else ""

        def add(kind: str, name: str, tpl: str, quantile: float | None = None) -> None:
            counting = kind in ("requests_total", "requests_bad")
            vals = dict(values)
            if quantile is not None:
                vals["quantile"] = quantile
            try:
                q = substitute(tpl, vals)
            except TemplateError as exc:
                warnings.append(
                    Warning(
                        self.name,
                        f"source {self.name!r}: SLI {name}: bad template: {exc}",
                        code="bad_template",
                    )
                )
                return
            s0, s1, st = (cstart, cend, count_step) if counting else (start, end, step)
            if s1 < s0:
                return
            jobs.append(
                _Job(
                    f"{prefix}SLI {name} for {svc}",
                    q,
                    kind,
                    svc,
                    name,
                    s0,
                    s1,
                    st,
                    is_base,
                    quantile,
                )
            )

        for kind in SLI_KINDS:
            tpl = self.templates.get(kind)
            if not tpl:
                continue
            if kind == "latency":
                for qt in quantiles:
                    add(kind, f"latency_p{_pct(qt)}", tpl, qt)
            else:
                add(kind, kind, tpl)
        for name, tpl in self.extra.items():
            add("extra", name, tpl)
        return jobs

    def _run(self, jobs: list[_Job]) -> None:
        for job in jobs:
            job.record = QueryRecord(
                id=self._next_id(),
                source=self.name,
                purpose=job.purpose,
                query=job.query,
                start=utc(job.start),
                end=utc(job.end),
                step_seconds=job.step,
                endpoint="/api/v1/query_range",
            )
            self._queries.append(job.record)

        def run(job: _Job) -> None:
            try:
                ans = self._call(
                    "/api/v1/query_range",
                    {
                        "query": job.query,
                        "start": _fmt_ts(job.start),
                        "end": _fmt_ts(job.end),
                        "step": _fmt_step(job.step),
                    },
                    method="POST",
                    purpose=job.purpose,
                    record=job.record,
                    context=f"{'baseline ' if job.baseline else ''}SLI {job.name} for service {job.service!r}; query: {job.query}",
                )
                job.result = ans.data
            except RequestFailed as exc:
                job.error = exc
                return
            except ConnectorError as exc:  # deadline
                job.error = RequestFailed(str(exc), "deadline", True)
                return
            # Converted here, while other queries are still running, and the decoded JSON
            # dropped at once: peak memory holds a few answers, not all of them.
            job.series = self._to_series(job, job.warnings)
            job.result = None

        workers = max(1, int(self.settings["max_concurrency"]))
        if workers == 1 or len(jobs) <= 1:
            for job in jobs:
                run(job)
            return
        with concurrent.futures.ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix=f"pmrecon-{self.name}"
        ) as pool:
            list(pool.map(run, jobs))

    def _to_series(self, job: _Job, warnings: list[Warning]) -> list[Series]:
        data = job.result or {}
        rec = job.record
        ref = rec.id if rec else None
        where = f"source {self.name!r}: {'baseline ' if job.baseline else ''}SLI {job.name} for service {job.service!r}"
        for w in rec.warnings if rec else []:
            warnings.append(
                Warning(self.name, f"{where}: server warning: {w}", code="server_warning")
            )
        if data.get("resultType") != "matrix":
            warnings.append(
                Warning(
                    self.name,
                    f"{where}: expected a range vector, got {data.get('resultType')!r} (query: {job.query})",
                    code="bad_result",
                )
            )
            return []
        result = data.get("result") or []
        if not result:
            metrics = ", ".join(metric_names(job.query)) or "the queried metric"
            warnings.append(
                Warning(
                    self.name,
                    f"{where}: no data: metric {metrics} has no series for this service in the "
                    f"{'baseline' if job.baseline else 'window'}; run `pmrecon check` (query: {job.query})",
                    code="metric_missing",
                )
            )
            return []
        out: list[Series] = []
        dropped = 0
        for item in result:
            labels = {k: str(v) for k, v in (item.get("metric") or {}).items()}
            xs, ys, bad = _points(item.get("values") or [])
            dropped += bad
            name = job.name
            if len(result) > 1:
                shown = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()) if k != "__name__")
                name = f"{job.name}{{{shown}}}"
            out.append(
                Series(
                    name=name,
                    kind=job.kind,
                    service=job.service,
                    unit=UNITS[job.kind],
                    timestamps=xs,
                    values=ys,
                    step_seconds=job.step,
                    query_ref=ref,
                    quantile=job.quantile,
                    labels=labels,
                    baseline=job.baseline,
                )
            )
        if dropped:
            warnings.append(
                Warning(
                    self.name,
                    f"{where}: {dropped} NaN/Inf sample(s) ignored (e.g. no traffic, or a histogram without data) "
                    f"(query {ref})",
                    code="nan_samples",
                )
            )
        return out


def _points(values: list[Any]) -> tuple[list[float], list[float], int]:
    """``[[t, "v"], ...]`` as (timestamps, values, dropped): NaN, ±Inf and non-numbers dropped.

    The common case (every value finite) converts whole columns with ``map``, twice as fast
    as a loop per point; anything else goes through the per-point path.
    """
    if not values:
        return [], [], 0
    try:
        ts_col, v_col = zip(*values)
        ys = list(map(float, v_col))
        xs = list(map(float, ts_col))
    except (TypeError, ValueError):
        return _points_slow(values)
    if all(map(math.isfinite, ys)):
        return xs, ys, 0
    return _points_slow(values)


def _points_slow(values: list[Any]) -> tuple[list[float], list[float], int]:
    xs: list[float] = []
    ys: list[float] = []
    dropped = 0
    for pair in values:
        try:
            y = float(pair[1])
            t = float(pair[0])
        except (TypeError, ValueError, IndexError, KeyError):
            dropped += 1
            continue
        if math.isnan(y) or math.isinf(y):
            dropped += 1
            continue
        xs.append(t)
        ys.append(y)
    return xs, ys, dropped


# --------------------------------------------------------------------------- alert intervals


def build_alerts(
    alerts_raw: Mapping[tuple[tuple[str, str], ...], Mapping[float, float]],
    for_state: Mapping[tuple[tuple[str, str], ...], Mapping[float, float]],
    window: Window,
    *,
    rules: Mapping[str, list[dict[str, Any]]] | None = None,
    default_eval: float | None = None,
    eval_override: bool = False,
    services: tuple[str, ...] = (),
    service_label: str = "service",
    source: str = "prometheus",
    query_ref: str | None = None,
) -> list[Alert]:
    """Alerts from raw ALERTS samples: runs split at gaps > 1.5 × the evaluation interval.

    Samples are taken from the half-open window ``[start, end)``. An interval is
    ``[first sample, last sample + eval]``; it is ``open_end`` (and ends at the window's end)
    when its last sample lies within one evaluation interval of the window's end.
    """
    rules = rules or {}
    w0, w1 = window.start.timestamp(), window.end.timestamp()
    grouped: dict[tuple[tuple[str, str], ...], dict[str, list[float]]] = {}
    for labels, samples in alerts_raw.items():
        ld = dict(labels)
        state = ld.pop("alertstate", "firing")
        key = tuple(sorted(ld.items()))
        times = sorted(x for x, v in samples.items() if w0 <= x < w1 and not math.isnan(v))
        if times:
            grouped.setdefault(key, {}).setdefault(state, []).extend(times)
    out: list[Alert] = []
    for key, states in grouped.items():
        ld = dict(key)
        name = ld.get("alertname", "")
        if services and service_label in ld and ld[service_label] not in services:
            continue
        rule = _matching_rule(rules.get(name) or [], ld)
        all_times = sorted(x for ts_ in states.values() for x in ts_)
        eval_s = _eval_interval(all_times, rule, default_eval, eval_override)
        alert = Alert(
            name=name,
            labels=ld,
            severity=ld.get("severity"),
            source=source,
            query_ref=query_ref,
            annotations=_render_annotations(rule["annotations"], ld) if rule else {},
        )
        for state in ("pending", "firing"):
            for run in _runs(sorted(set(states.get(state, []))), eval_s):
                last = run[-1]
                open_end = w1 - last <= eval_s
                alert_iv = Interval(
                    start=utc(run[0]),
                    end=utc(w1 if open_end else min(last + eval_s, w1)),
                    open_start=run[0] - w0 < eval_s,
                    open_end=open_end,
                )
                getattr(alert, state).append(alert_iv)
        fs = for_state.get(key)
        if fs:
            inside = sorted((x, v) for x, v in fs.items() if w0 <= x < w1 and not math.isnan(v))
            if inside:
                alert.active_at = utc(inside[0][1])
        if alert.active_at is None:
            first = alert.pending[0].start if alert.pending else alert.firing[0].start
            alert.active_at = first if not (alert.pending and alert.pending[0].open_start) else None
        out.append(alert)
    out.sort(
        key=lambda a: (
            min([iv.start for iv in a.firing + a.pending]),
            a.name,
            sorted(a.labels.items()),
        )
    )
    return out


def _runs(times: list[float], eval_s: float) -> list[list[float]]:
    runs: list[list[float]] = []
    for x in times:
        if runs and x - runs[-1][-1] <= 1.5 * eval_s:
            runs[-1].append(x)
        else:
            runs.append([x])
    return runs


def _eval_interval(
    times: list[float], rule: dict[str, Any] | None, default: float | None, override: bool
) -> float:
    """The setting, else the rule group's interval, else the global one, else the samples' spacing."""
    if override and default:
        return default
    if rule and rule.get("interval"):
        return float(rule["interval"])
    if default:
        return default
    deltas = [b - a for a, b in zip(times, times[1:]) if b > a]
    if deltas:
        return float(statistics.median(deltas))
    return DEFAULT_INTERVAL


def _matching_rule(
    candidates: list[dict[str, Any]], labels: Mapping[str, str]
) -> dict[str, Any] | None:
    for rule in candidates:
        if all(labels.get(k) == v for k, v in (rule.get("labels") or {}).items()):
            return rule
    return candidates[0] if len(candidates) == 1 else None


_TEMPLATE_LABEL = re.compile(r"\{\{-?\s*(?:\$labels|\.Labels)\.([A-Za-z_][A-Za-z0-9_]*)\s*-?\}\}")


def _render_annotations(
    annotations: Mapping[str, str], labels: Mapping[str, str]
) -> dict[str, str]:
    """Fill ``{{ $labels.x }}`` from the alert's labels; other template actions are left as written."""
    return {
        str(k): _TEMPLATE_LABEL.sub(lambda m: labels.get(m.group(1), m.group(0)), str(v))
        for k, v in annotations.items()
    }


# --------------------------------------------------------------------------- small helpers


def _fmt_ts(x: float) -> str:
    return f"{x:.3f}".rstrip("0").rstrip(".")


def _fmt_step(step: float) -> str:
    return f"{step:g}"


def _pct(q: float) -> str:
    text = f"{q * 100:.10g}"
    return text.replace(".", "_")


def _go_duration(text: str) -> str:
    """Prometheus config durations (``1m30s``, ``15s``) to seconds for parse_duration."""
    total = 0.0
    matched = False
    for num, unit in re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)", text):
        matched = True
        total += (
            float(num)
            * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}[
                unit
            ]
        )
    return f"{total}" if matched else text


def _major(version: str | None) -> int | None:
    if not version:
        return None
    m = re.match(r"v?(\d+)", version)
    return int(m.group(1)) if m else None


def _short(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:160]
