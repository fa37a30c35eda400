"""Real, single-node Elasticsearch servers for the test suite (and, through the subclass in
tests/infra/opensearch.py, OpenSearch ones).

The distributions come from ``scripts/fetch-elasticsearch`` (Elasticsearch's own
"integ-test-zip", cached under ``${PMRECON_CACHE:-$HOME/.cache/pmrecon}/elasticsearch``).
A node never writes into the cached distribution: each node gets a temp dir holding its own
config dir (``ES_PATH_CONF``), data, logs and tmp dirs, and the cached dir is used read-only.

Running as root (CI, this machine): Elasticsearch refuses to run as root, so the node runs as an
unprivileged user (``$PMRECON_ES_USER``, default ``pmrecon-es``, created by tests/infra/machine.py
if missing, whoever starts a node first). The cache usually lives
under ``/root``, which that user cannot traverse, so the node is started in a private mount
namespace (``unshare --mount``) where the cached distribution is bind-mounted read-only into the
node's temp dir. Nothing outside the temp dir changes and the mount vanishes with the node.
Running as an ordinary user: the node runs directly as that user.

The integ-test zip holds the server core, transport-netty4, x-pack-core and x-pack-security only:
no painless, analysis-common, reindex (_delete_by_query), pipeline aggregations or data streams.

Typical use::

    node = ElasticsearchNode("9.5.4")
    node.start()
    try:
        es = make_client(node.url, node.major)
        ...
    finally:
        node.stop()
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from tests.infra import machine

REPO_ROOT = Path(__file__).resolve().parents[2]
FETCH_SCRIPT = REPO_ROOT / "scripts" / "fetch-elasticsearch"

#: JDKs tried in order, per Elasticsearch major (9.x needs Java 21+, 8.19 runs on 17+).
#: ``PMRECON_ES_JAVA_HOME_8`` / ``PMRECON_ES_JAVA_HOME_9`` override.
JAVA_HOME_CANDIDATES: dict[int, tuple[str, ...]] = {
    8: ("/usr/lib/jvm/java-17-openjdk-amd64", "/usr/lib/jvm/temurin-25-jdk-amd64"),
    9: ("/usr/lib/jvm/temurin-25-jdk-amd64", "/usr/lib/jvm/temurin-21-jdk-amd64"),
}
#: The same for OpenSearch (2.x runs on 17; 3.x needs 21+). ``PMRECON_OS_JAVA_HOME_<major>``
#: overrides.
OPENSEARCH_JAVA_HOME_CANDIDATES: dict[int, tuple[str, ...]] = {
    2: ("/usr/lib/jvm/java-17-openjdk-amd64", "/usr/lib/jvm/temurin-21-jdk-amd64"),
    3: ("/usr/lib/jvm/temurin-25-jdk-amd64", "/usr/lib/jvm/temurin-21-jdk-amd64"),
}

DEFAULT_HEAP = "512m"
START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 30.0


_KEEP_HINT = "(PMRECON_ES_KEEP=1 keeps the node's temp dir: config, data and full logs)"


class ElasticsearchStartError(RuntimeError):
    """The node did not come up; the message carries the tail of its logs."""


def cache_dir() -> Path:
    """Where scripts/fetch-elasticsearch keeps the unpacked distributions."""
    return machine.es_cache()


def pinned_versions() -> list[str]:
    """The Elasticsearch versions pinned in scripts/fetch-elasticsearch (``ES_VERSIONS=``)."""
    text = FETCH_SCRIPT.read_text(encoding="utf-8")
    m = re.search(r'^ES_VERSIONS="([^"]+)"\s*$', text, re.MULTILINE)
    if not m:
        raise RuntimeError(f"no ES_VERSIONS=... line in {FETCH_SCRIPT}")
    return m.group(1).split()


def pinned_version(major: int) -> str:
    """The pinned version of one major, e.g. ``pinned_version(9)``."""
    for v in pinned_versions():
        if int(v.split(".")[0]) == major:
            return v
    raise KeyError(f"no Elasticsearch {major}.x pinned in {FETCH_SCRIPT}")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_version(es_url: str, timeout: float = 30) -> str:
    """The server's version number, from ``GET /_nodes/_local``.

    ``GET /`` (and so the Python client's ``info()``) is not served by the integ-test
    distribution: it lives in the ``rest-root`` module, which that zip lacks (HTTP 405).
    """
    url = es_url.rstrip("/") + "/_nodes/_local?filter_path=nodes.*.version"
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        nodes = json.loads(resp.read())["nodes"]
    return str(next(iter(nodes.values()))["version"])


def find_java_home(major: int, product: str = "elasticsearch") -> str:
    """The JDK a node of ``product`` ``major`` runs on (``PMRECON_ES_JAVA_HOME_<major>``, or
    ``PMRECON_OS_JAVA_HOME_<major>`` for OpenSearch, overrides)."""
    var = "OS" if product == "opensearch" else "ES"
    env = os.environ.get(f"PMRECON_{var}_JAVA_HOME_{major}")
    table = OPENSEARCH_JAVA_HOME_CANDIDATES if product == "opensearch" else JAVA_HOME_CANDIDATES
    candidates = (env,) if env else table.get(major, ())
    for c in candidates:
        if c and os.path.isfile(os.path.join(c, "bin", "java")):
            return c
    raise ElasticsearchStartError(
        f"no JDK for {product} {major}.x: tried {', '.join(filter(None, candidates))} "
        f"(set PMRECON_{var}_JAVA_HOME_{major})"
    )


def ensure_distribution(version: str, product: str = "elasticsearch") -> Path:
    """The unpacked distribution of ``version``, fetched by scripts/fetch-elasticsearch if absent."""
    home = machine.cache_root() / product / f"{product}-{version}"
    if not (home / "bin" / product).is_file():
        asked = version if product == "elasticsearch" else f"{product}:{version}"
        proc = subprocess.run(
            ["bash", str(FETCH_SCRIPT), asked],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        if proc.returncode != 0 or not (home / "bin" / product).is_file():
            raise ElasticsearchStartError(
                f"scripts/fetch-elasticsearch {asked} failed (exit {proc.returncode}):\n"
                f"{proc.stdout[-4000:]}"
            )
    return home


def _user_can_read(user: str, home: Path) -> bool:
    """Whether ``user`` can reach and read the distribution at ``home`` (all parents too)."""
    probe = subprocess.run(
        [
            "runuser",
            "-u",
            user,
            "--",
            "test",
            "-r",
            str(home / "lib"),
            "-a",
            "-x",
            str(home / "bin"),
        ],
        capture_output=True,
    )
    return probe.returncode == 0


_RUNNING: set[ElasticsearchNode] = set()


@atexit.register
def _stop_all() -> None:  # last resort: never leave a node running
    for node in list(_RUNNING):
        with contextlib.suppress(Exception):
            node.stop()


class ElasticsearchNode:
    """One single-node Elasticsearch cluster on 127.0.0.1, started from the cached distribution.

    ``start()`` blocks until the cluster is yellow (or raises ElasticsearchStartError with the
    tail of the node's logs); ``stop()`` sends SIGTERM to the node's process group, then SIGKILL
    after ``stop_timeout`` seconds, and removes the temp dir. Also a context manager.
    """

    #: The distribution's name (its folder, its ``bin/`` script, its ``.yml``) and the source
    #: type pmrecon reads it with.
    product = "elasticsearch"
    #: The prefix of the start script's environment variables (``ES_JAVA_HOME``, ...).
    env_prefix = "ES"
    #: In the node's name and temp dir: ``pmrecon-es9-...``.
    short = "es"
    #: In messages.
    display = "Elasticsearch"

    def __init__(
        self,
        version: str,
        *,
        heap: str = DEFAULT_HEAP,
        start_timeout: float = START_TIMEOUT_S,
        stop_timeout: float = STOP_TIMEOUT_S,
        settings: Mapping[str, Any] | None = None,
    ) -> None:
        self.version = version
        self.major = int(version.split(".")[0])
        self.heap = heap
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.extra_settings = dict(settings or {})
        self.http_port: int | None = None
        self.transport_port: int | None = None
        self.workdir: Path | None = None
        self.start_seconds: float | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._stdout: Any = None

    # -- public API -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self.http_port is None:
            raise RuntimeError("node not started")
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> ElasticsearchNode:
        if self._proc is not None:
            raise RuntimeError("node already started")
        t0 = time.monotonic()
        home = self.distribution()
        java_home = self.java_home()
        self.workdir = Path(tempfile.mkdtemp(prefix=f"pmrecon-{self.short}{self.major}-"))
        try:
            cmd, env = self._prepare(self.workdir, home, java_home)
            self._stdout = open(self.workdir / "logs" / "console.log", "wb")  # noqa: SIM115 (closed in stop())
            self._proc = subprocess.Popen(
                cmd,
                cwd=str(self.workdir),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=self._stdout,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group: stop() signals the whole tree
            )
            _RUNNING.add(self)
            self._wait_until_up(t0)
        except BaseException:
            # Whatever failed, the temp dir goes with the node, unless PMRECON_ES_KEEP=1 keeps
            # it (config, logs, data) for a post-mortem.
            self.stop(keep_workdir=os.environ.get("PMRECON_ES_KEEP") == "1")
            raise
        self.start_seconds = time.monotonic() - t0
        return self

    def _prepare(
        self, workdir: Path, home: Path, java_home: str
    ) -> tuple[list[str], dict[str, str]]:
        """Fill the node's temp dir (config, data, logs, tmp); the command and environment."""
        conf = workdir / "config"
        data, logs, tmp = (workdir / n for n in ("data", "logs", "tmp"))
        shutil.copytree(home / "config", conf)  # ~30 kB
        self.adjust_config(conf, workdir)
        for d in (data, logs, tmp):
            d.mkdir()
        self.http_port, self.transport_port = free_port(), free_port()
        while self.transport_port == self.http_port:
            self.transport_port = free_port()
        settings: dict[str, Any] = {
            "cluster.name": f"pmrecon-test-{os.getpid()}-{self.http_port}",
            "node.name": f"pmrecon-{self.short}{self.major}",
            "discovery.type": "single-node",
            "network.host": "127.0.0.1",
            "http.port": self.http_port,
            "transport.port": self.transport_port,
            "path.data": str(data),
            "path.logs": str(logs),
            **self.product_settings(),
            "cluster.routing.allocation.disk.threshold_enabled": False,
            "action.destructive_requires_name": False,
        }
        settings.update(self.extra_settings)
        # JSON is valid YAML: no quoting surprises with paths.
        (conf / f"{self.product}.yml").write_text(
            "".join(f"{k}: {json.dumps(v)}\n" for k, v in settings.items()), encoding="utf-8"
        )

        pre = self.env_prefix
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith((f"{pre}_", "JAVA_", "_JAVA_", "CLI_JAVA"))
        }
        env.update(
            {
                f"{pre}_JAVA_HOME": java_home,
                f"{pre}_PATH_CONF": str(conf),
                f"{pre}_TMPDIR": str(tmp),
                f"{pre}_JAVA_OPTS": f"-Xms{self.heap} -Xmx{self.heap}",
                "LC_ALL": "C.UTF-8",
            }
        )
        script = home / "bin" / self.product

        as_root = os.geteuid() == 0
        mnt = workdir / "home"
        if as_root:
            mnt.mkdir()
        machine.hand_to_es_user(workdir)  # creates the user when root and it is missing
        if not as_root:
            return [str(script)], env
        user = machine.es_user()
        # runuser keeps the environment (ES_* above).
        if _user_can_read(user, home):
            return ["runuser", "-u", user, "--", str(script)], env
        # Private mount namespace: bind the cached dist read-only at workdir/home, so the
        # unprivileged user needs no access to the cache's parents (e.g. /root).
        mounted = f'mount -o bind,ro "$1" "$2" && exec runuser -u "$3" -- "$2/bin/{self.product}"'
        cmd = ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", mounted]
        return [*cmd, "sh", str(home), str(mnt), user], env

    def distribution(self) -> Path:
        """The unpacked distribution, fetched when absent."""
        return ensure_distribution(self.version)

    def java_home(self) -> str:
        """The JDK the node runs on."""
        return find_java_home(self.major)

    def adjust_config(self, conf: Path, workdir: Path) -> None:
        """Change the node's copy of the distribution's config before it starts (here: none)."""

    def product_settings(self) -> dict[str, Any]:
        """Settings only this product knows (an unknown setting stops a node)."""
        return {"xpack.security.enabled": False}

    def stop(self, *, keep_workdir: bool = False) -> None:
        proc, self._proc = self._proc, None
        _RUNNING.discard(self)
        if proc is not None:
            if proc.poll() is None:
                self._signal_group(proc, signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=self.stop_timeout)
            # SIGKILL whatever is left in the group (the JVM is a grandchild of `proc`).
            self._signal_group(proc, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)
        if self._stdout is not None:
            self._stdout.close()
            self._stdout = None
        if self.workdir is not None and not keep_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def log_tail(self, lines: int = 40) -> str:
        """Last lines of the node's console output and server log, for error messages."""
        if self.workdir is None:
            return ""
        logs = self.workdir / "logs"

        def read(f: Path) -> list[str]:
            try:
                return f.read_text(encoding="utf-8", errors="replace").splitlines()
            except OSError:
                return []

        out = []
        server_lines: list[str] = []
        for f in sorted(logs.glob("pmrecon-test-*.log")):
            server_lines = read(f)
            out.append(f"--- {f} (last {lines} lines) ---")
            out.extend(line[:400] for line in server_lines[-lines:])
        # Console lines the server log lacks: CLI/JVM errors, e.g. an unknown setting.
        seen = set(server_lines)
        console = [line for line in read(logs / "console.log") if line not in seen]
        if console:
            out.append(f"--- {logs / 'console.log'} (last {lines} lines not in the server log) ---")
            out.extend(line[:400] for line in console[-lines:])
        return "\n".join(out)

    def request(self, method: str, path: str, body: Any = None, timeout: float = 30) -> Any:
        """A plain JSON request to the node (no client library involved)."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read() or b"null")

    def __enter__(self) -> ElasticsearchNode:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = self.url if self.http_port else "not started"
        return f"{type(self).__name__}({self.version!r}, {state})"

    # -- internals --------------------------------------------------------------------------

    @staticmethod
    def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)

    def _wait_until_up(self, t0: float) -> None:
        assert self._proc is not None
        deadline = t0 + self.start_timeout
        last_err: object = None
        while True:
            if self._proc.poll() is not None:
                raise ElasticsearchStartError(
                    f"{self.display} {self.version} exited with code {self._proc.returncode} "
                    f"before becoming ready\n{self.log_tail()}\n{_KEEP_HINT}"
                )
            try:
                health = self.request(
                    "GET", "/_cluster/health?wait_for_status=yellow&timeout=1s", timeout=5
                )
                if health.get("status") in ("yellow", "green"):
                    got = server_version(self.url)
                    if got != self.version:
                        raise ElasticsearchStartError(
                            f"asked for {self.display} {self.version}, port {self.http_port} "
                            f"answers as {got}"
                        )
                    return
                last_err = health
            except (urllib.error.URLError, ConnectionError, OSError, ValueError) as e:
                last_err = e
            if time.monotonic() > deadline:
                raise ElasticsearchStartError(
                    f"{self.display} {self.version} not ready after {self.start_timeout:.0f} s "
                    f"(last answer: {last_err!r})\n{self.log_tail()}\n{_KEEP_HINT}"
                )
            time.sleep(0.25)


# -- client -----------------------------------------------------------------------------------


def _compat_node_class(server_major: int) -> type:
    from elastic_transport import HttpHeaders, Urllib3HttpNode
    from elastic_transport._node import NodeApiResponse
    from elastic_transport.client_utils import DEFAULT, DefaultType

    pattern = re.compile(r"compatible-with=\d+")
    replacement = f"compatible-with={server_major}"

    class CompatHeadersNode(Urllib3HttpNode):
        """Rewrites ``compatible-with=N`` in Accept/Content-Type to the server's major."""

        def perform_request(
            self,
            method: str,
            target: str,
            body: bytes | None = None,
            headers: HttpHeaders | None = None,
            request_timeout: DefaultType | float | None = DEFAULT,
        ) -> NodeApiResponse:
            if headers:
                headers = HttpHeaders(headers)
                for h in ("accept", "content-type"):
                    if h in headers:
                        headers[h] = pattern.sub(replacement, headers[h])
            return super().perform_request(method, target, body, headers, request_timeout)

    return CompatHeadersNode


def make_client(url: str, major: int, **kwargs: Any) -> Any:
    """An ``elasticsearch.Elasticsearch`` client for a server of major version ``major``.

    The official client (9.x here) sends ``Accept`` / ``Content-Type`` headers with
    ``compatible-with=<client major>`` (e.g. ``application/vnd.elasticsearch+json;
    compatible-with=9``), and an 8.x server rejects ``compatible-with=9`` with HTTP 400
    (media_type_header_exception). Client-level ``headers=`` or ``.options(headers=...)`` do not
    help: every API method sets its own Accept/Content-Type, which win over them. So, when the
    server's major differs from the client's, the client gets a transport node class that rewrites
    ``compatible-with=N`` to the server's major on every request (``compatible-with=8`` for an 8.x
    server: REST API compatibility mode that 8.x accepts). The 9.x client also requires
    ``X-Elastic-Product: Elasticsearch`` in responses, which the 8.19 server core sends.
    Against a server of the client's own major the client is returned unchanged.
    """
    from elasticsearch import Elasticsearch
    from elasticsearch import __versionstr__ as client_version

    client_major = int(client_version.split(".")[0])
    kwargs.setdefault("request_timeout", 60)
    if major != client_major:
        kwargs.setdefault("node_class", _compat_node_class(major))
    return Elasticsearch(url, **kwargs)


def bulk_load(
    es_url: str,
    index: str,
    docs_iterable: Iterable[Mapping[str, Any]],
    chunk: int = 5000,
    *,
    major: int | None = None,
    refresh: bool = True,
) -> int:
    """Index ``docs_iterable`` into ``index`` with ``helpers.streaming_bulk``; returns the count.

    A doc may carry ``_id`` (and other ``_``-prefixed bulk metadata). ``major`` is the server's
    major version; asked from the server when omitted. Raises on the first failed document.
    The index is refreshed at the end (``refresh=False`` to skip), so the docs are searchable.
    """
    from elasticsearch import helpers

    if major is None:
        major = int(server_version(es_url).split(".")[0])
    return stream_docs(
        make_client(es_url, major), helpers.streaming_bulk, index, docs_iterable, chunk, refresh
    )


def stream_docs(
    client: Any,
    streaming_bulk: Any,
    index: str,
    docs_iterable: Iterable[Mapping[str, Any]],
    chunk: int,
    refresh: bool = True,
) -> int:
    """Index the docs through ``streaming_bulk`` (the client package's helper), refresh, close
    the client; the count."""
    try:

        def actions() -> Iterator[dict[str, Any]]:
            for doc in docs_iterable:
                yield {"_index": index, "_op_type": "index", **doc}

        n = 0
        for ok, item in streaming_bulk(
            client, actions(), chunk_size=chunk, raise_on_error=True, max_retries=2
        ):
            if not ok:  # pragma: no cover - raise_on_error raises first
                raise RuntimeError(f"bulk item failed: {item}")
            n += 1
        if refresh:
            client.indices.refresh(index=index)
        return n
    finally:
        client.close()
