"""The HTTP client of the connectors that speak plain HTTP + JSON (Prometheus, Alertmanager).

One requests session per source with its headers, auth, TLS and :mod:`retry policy
<connectors.toolkit.retry>`. Requests go through that session directly so that the
server's error text and the response size are kept. Answers from a hostile or broken
server are bounded: at most ``max_bytes`` read (decoded, so a gzip bomb is bounded too),
the whole answer within the timeout (slow drips included), redirects followed only on
the configured scheme, host and port. Every failure is a :class:`RequestFailed` whose
one-line message names the source, says what went wrong and how to fix it, with every
secret scrubbed.

The client returns the decoded JSON; a server with an envelope (Prometheus's
``{"status": "success", "data": …}``) unwraps it in a subclass (:meth:`HttpClient.unwrap`).
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
import urllib3

from pmrecon.errors import ConfigError

from .credentials import collect_secrets, redact_url, scrub
from .failures import RequestFailed, error_reason, is_dns_error
from .retry import RetryPolicy

MAX_REDIRECTS = 3  # redirects followed, and only on the configured host
MAX_RESPONSE_BYTES = 256 * 1024 * 1024  # largest answer read (decoded), per request
BODY_CHUNK = 64 * 1024


@dataclass
class Answer:
    """A successful answer: its data, the server's warnings, its size and how long it took."""

    data: Any
    warnings: list[str]
    bytes: int
    duration: float


@dataclass(frozen=True)
class CallSite:
    """What every message about one call says: the source and URL, the path, the context."""

    where: str
    path: str
    ctx: str


class HttpClient:
    """A source's requests session, used directly so that error texts and sizes are kept.

    Reads the settings every HTTP source shares: ``url``, ``headers``, ``bearer_token``,
    ``username``/``password``, ``tls`` (``ca_file``, ``cert_file``, ``key_file``,
    ``verify``), ``timeout``, ``retries`` and ``retry_backoff``.
    """

    max_bytes = MAX_RESPONSE_BYTES
    #: The failure kind of an answer that is not the API at all (an HTML page, not JSON).
    foreign_kind = "not_api"
    #: The fix named by an authentication failure (401/403).
    auth_fix = "check bearer_token or username/password (and the tenant header)"

    def __init__(
        self,
        name: str,
        s: Mapping[str, Any],
        *,
        schema: Mapping[str, Any] | None = None,
        retry_internal_errors: bool = False,
    ) -> None:
        self.name = name
        url = str(s["url"] or "").strip()
        if not re.match(r"^https?://", url):
            raise ConfigError(
                f"source {name!r}: url must start with http:// or https://, got {redact_url(url)!r}"
            )
        self.url = url.rstrip("/")
        self.shown_url = redact_url(self.url)
        self.timeout = float(s["timeout"])
        self.secrets = collect_secrets(s, schema)
        headers = {str(k): str(v) for k, v in (s.get("headers") or {}).items()}
        if s.get("bearer_token"):
            headers["Authorization"] = f"Bearer {s['bearer_token']}"
        self.headers: dict[str, str] | None = headers or None
        self.auth = (s["username"], s.get("password") or "") if s.get("username") else None
        tls = s["tls"]
        session = requests.Session()
        session.verify = (
            tls["ca_file"] if (tls["verify"] and tls["ca_file"]) else bool(tls["verify"])
        )
        if tls["cert_file"]:
            session.cert = (
                (tls["cert_file"], tls["key_file"]) if tls["key_file"] else tls["cert_file"]
            )
        self.retry = RetryPolicy.from_settings(s, internal_errors=retry_internal_errors)
        session.mount(self.url, requests.adapters.HTTPAdapter(max_retries=self.retry.urllib3()))
        self.session = session

    def scrub(self, text: str) -> str:
        """``text`` without this source's secrets nor any URL's ``user:password@``."""
        return scrub(text, self.secrets)

    def quote(self, body: bytes) -> str:
        """The start of an answer, for a message: scrubbed before it is cut, so that no
        secret the server quoted back can show in part."""
        return snippet(self.scrub(body.decode("utf-8", "replace")))

    def call(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        method: str = "GET",
        context: str = "",
        timeout: float | None = None,
    ) -> Answer:
        """One API call; returns its data or raises :class:`RequestFailed` with a one-line message."""
        at = CallSite(
            f"source {self.name!r} ({self.shown_url})", path, f"; {context}" if context else ""
        )
        url = f"{self.url}{path}"
        kwargs: dict[str, Any] = {"params": params} if method == "GET" else {"data": params}
        limit = timeout if timeout is not None else self.timeout
        started = time.monotonic()
        # The whole answer, redirects and body included, must arrive within ``limit``:
        # a server dripping one byte at a time never trips a per-read socket timeout.
        deadline = started + limit
        for _hop in range(MAX_REDIRECTS + 1):
            wait = max(0.05, deadline - time.monotonic())
            resp = self._send(method, url, kwargs, wait, limit, at)
            if not resp.is_redirect:
                break
            url = self._redirect_target(resp, url, at)
            if method == "GET":
                kwargs = {}  # the Location carries the query string
        else:
            raise self._failed(
                f"more than {MAX_REDIRECTS} redirects for {path}; check the URL",
                at,
                "redirect",
                True,
                resp.status_code,
            )
        body = self._read_body(resp, deadline, limit, at)
        return self._answer(resp, body, started, at)

    def decode(self, body: bytes, at: CallSite) -> Any:
        """The JSON of an answer's body (a subclass may read some answers its own way);
        ValueError if it does not parse."""
        return json.loads(body)

    def unwrap(
        self, payload: Any, body: bytes, status: int, duration: float, at: CallSite
    ) -> Answer:
        """A successful answer's data: the JSON itself (a subclass removes an envelope)."""
        if payload is None and body:
            raise self._failed(
                f"the answer to {at.path} is not JSON ({self.quote(body)}); check the URL",
                at,
                self.foreign_kind,
                True,
                status,
            )
        return Answer(payload, [], len(body), duration)

    # ------------------------------------------------------------------ internals

    def _failed(
        self, what: str, at: CallSite, kind: str, fatal: bool, status: int | None = None
    ) -> RequestFailed:
        """A RequestFailed saying ``<source>: <what><context>``, secrets scrubbed."""
        return RequestFailed(self.scrub(f"{at.where}: {what}{at.ctx}"), kind, fatal, status)

    def _redirect_target(self, resp: requests.Response, url: str, at: CallSite) -> str:
        """Where a redirect points, if it stays on the configured origin."""
        target = urljoin(url, resp.headers.get("location", ""))
        resp.close()
        if not same_origin(target, self.url):
            # Credentials would follow the redirect, and the data would come from a
            # server nobody configured.
            raise self._failed(
                f"HTTP {resp.status_code} redirect to another host ({redact_url(target)}) "
                f"refused; set url to the address that serves the API",
                at,
                "redirect",
                True,
                resp.status_code,
            )
        return target

    def _send(
        self,
        method: str,
        url: str,
        kwargs: dict[str, Any],
        wait: float,
        limit: float,
        at: CallSite,
    ) -> requests.Response:
        """Send one request and read its headers within ``wait`` seconds (``limit`` is shown)."""
        slow = f"timeout: no answer within {secs(limit)}s; raise 'timeout' or shorten the window"
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
            raise self._failed(
                f"TLS handshake failed ({error_reason(exc)}); check tls.ca_file, tls.cert_file or tls.verify",
                at,
                "tls",
                True,
            ) from exc
        except requests.exceptions.ConnectTimeout as exc:
            raise self._failed(
                f"connection timed out after {self.timeout:g}s; check the URL and the network",
                at,
                "timeout",
                True,
            ) from exc
        except requests.exceptions.ReadTimeout as exc:
            raise self._failed(slow, at, "timeout", False) from exc
        except requests.exceptions.ConnectionError as exc:
            text = repr(exc)
            if "ReadTimeoutError" in text or "Read timed out" in text:
                # with a retry policy, urllib3 reports a read timeout as a ConnectionError
                raise self._failed(slow, at, "timeout", False) from exc
            if is_dns_error(text):
                host = urlsplit(self.url).hostname
                raise self._failed(
                    f"DNS: cannot resolve host {host!r}; check the URL", at, "dns", True
                ) from exc
            raise self._failed(
                f"unreachable: cannot connect ({error_reason(exc)}); check the URL and that the server is running",
                at,
                "unreachable",
                True,
            ) from exc
        except requests.exceptions.RequestException as exc:
            raise self._failed(
                f"request failed ({error_reason(exc)})", at, "unreachable", True
            ) from exc

    def _read_body(
        self, resp: requests.Response, deadline: float, limit: float, at: CallSite
    ) -> bytes:
        """The body, read in pieces: at most ``max_bytes``, and complete before ``deadline``."""
        cap = self.max_bytes
        too_big = self._failed(
            f"the answer to {at.path} is larger than {cap // (1024 * 1024)} MiB; "
            f"shorten the window or narrow the query",
            at,
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

        def late() -> RequestFailed:
            return self._failed(
                f"timeout: the answer to {at.path} did not arrive within {secs(limit)}s "
                f"({size} bytes received); raise 'timeout' or shorten the window",
                at,
                "timeout",
                False,
                resp.status_code,
            )

        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise late()
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
            if isinstance(exc, (TimeoutError, urllib3.exceptions.TimeoutError)) or (
                "timed out" in repr(exc)
            ):
                raise late() from exc
            raise self._failed(
                f"the answer to {at.path} was cut short after {size} bytes "
                f"({error_reason(exc)}); the server or a proxy closed the connection",
                at,
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

    def _answer(self, resp: requests.Response, body: bytes, started: float, at: CallSite) -> Answer:
        """Map an HTTP answer to data, or to a RequestFailed saying what went wrong."""
        duration = time.monotonic() - started
        payload: Any = None
        malformed = False
        try:
            payload = self.decode(body, at) if body else None
        except ValueError:
            payload = None
            # JSON that does not parse (cut short, corrupted) is not the same failure as
            # an HTML login page (whatever its Content-Type): the first may work on the
            # next query, the second never will.
            malformed = body.lstrip()[:1] in (b"{", b"[")
        status = resp.status_code
        self._check_status(status, payload, body, at)
        if malformed:
            raise self._failed(
                f"the answer to {at.path} is malformed JSON ({len(body)} bytes: {self.quote(body)[:80]}); "
                f"the server or a proxy corrupted it",
                at,
                "malformed",
                False,
                status,
            )
        return self.unwrap(payload, body, status, duration, at)

    def _check_status(self, status: int, payload: Any, body: bytes, at: CallSite) -> None:
        """Raise the RequestFailed an error status means (401/403, 404, other 4xx, 5xx)."""
        if status < 400:
            return
        if status in (401, 403):
            what = "authentication failed" if status == 401 else "access denied"
            raise self._failed(f"{what} (HTTP {status}); {self.auth_fix}", at, "auth", True, status)
        if status == 404:
            raise self._failed(
                f"HTTP 404 for {at.path}; check the URL's path prefix",
                at,
                "not_found",
                False,
                status,
            )
        detail = server_error(payload) or self.quote(body)
        if status < 500:
            kind = "bad_query" if status in (400, 422) else "http"
            label = "bad query" if kind == "bad_query" else f"HTTP {status}"
            raise self._failed(f"{label} (HTTP {status}): {detail}", at, kind, False, status)
        is_timeout = isinstance(payload, dict) and payload.get("errorType") == "timeout"
        raise self._failed(
            f"{'timeout: ' if is_timeout else ''}server error (HTTP {status}): {detail}",
            at,
            "timeout" if is_timeout else "server",
            False,
            status,
        )


def secs(seconds: float) -> str:
    """Seconds for a message: ``1.5``, ``30``, ``2.9`` (never ``2.87234``)."""
    return f"{round(seconds, 1):g}"


def same_origin(url: str, base: str) -> bool:
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


def server_error(payload: Any) -> str:
    """The ``errorType: error`` a JSON error answer carries, or ``""``."""
    if isinstance(payload, dict) and payload.get("error"):
        return f"{payload.get('errorType', 'error')}: {payload['error']}"
    return ""


def snippet(body: bytes | str) -> str:
    """The start of a body as one line of text, HTML tags removed."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    text = re.sub(r"<[^>]+>", " ", text)
    return " ".join(text.split())[:200]
