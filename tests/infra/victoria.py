"""A real VictoriaMetrics single-node server for the test suite (Debian ``victoria-metrics``).

- :class:`VictoriaMetricsServer` starts ``/usr/bin/victoria-metrics`` on 127.0.0.1 on a
  free port with its own data dir and a retention long enough for scenarios dated months
  back (data outside ``-retentionPeriod`` is dropped at import, silently), and waits for
  ``/health``.
- :func:`import_scenarios` feeds the very samples the Prometheus tests backfill with
  promtool (``Scenario.openmetrics()``) through ``POST /api/v1/import/prometheus``, which
  takes the Prometheus text format with **millisecond** timestamps, then forces a flush so
  that queries see every sample at once (imports are otherwise visible after about a
  second).
- :class:`VmalertServer` runs the package's ``vmalert`` with alerting rules against a
  VictoriaMetrics; started with ``-vmalert.proxyURL``, VictoriaMetrics then answers
  ``/api/v1/rules`` from it (alone it lists no rule).
- The Debian package enables a system service on 0.0.0.0:8428 with the system data dir:
  :func:`ensure_installed` keeps it from starting (policy-rc.d) and ``scripts/test`` stops
  and disables it on a machine where it already runs.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from pathlib import Path

from tests.infra.prometheus import _Server, ensure_installed, free_port
from tests.scenarios import Scenario

BINARY = "victoria-metrics"
#: ``name{labels} value seconds`` as Scenario.openmetrics() writes it.
_SAMPLE = re.compile(r"^(\S+\}) (\S+) (\d+)$")


def prometheus_text_ms(openmetrics: str) -> Iterator[str]:
    """OpenMetrics lines with seconds timestamps as Prometheus text lines with milliseconds.

    VictoriaMetrics reads every timestamp of its Prometheus import as milliseconds: seconds
    would land in January 1970, outside any retention, and be dropped without an error.
    """
    for line in openmetrics.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if m is None:
            raise ValueError(f"not a sample line of the scenario generator: {line!r}")
        yield f"{m.group(1)} {m.group(2)} {int(m.group(3)) * 1000}"


class VictoriaMetricsServer(_Server):
    """``victoria-metrics`` on 127.0.0.1 with its own data dir and a 100-year retention."""

    name = "victoria-metrics"
    ready_path = "/health"

    def __init__(self, root: Path, extra_args: list[str] | None = None) -> None:
        super().__init__(root)
        self.data_dir = root / "data"
        self.extra_args = extra_args or []
        self.scenarios: dict[str, Scenario] = {}  # imported by import_scenarios, by name

    def command(self) -> list[str]:
        return [
            ensure_installed(BINARY, "victoria-metrics"),
            f"-storageDataPath={self.data_dir}",
            f"-httpListenAddr=127.0.0.1:{self.port}",
            "-retentionPeriod=100y",
            "-loggerLevel=ERROR",
            *self.extra_args,
        ]

    def post(self, path: str, body: bytes, timeout: float = 120.0) -> bytes:
        """POST ``body`` to ``path``; RuntimeError with the server's words on a non-2xx answer."""
        req = urllib.request.Request(self.url + path, data=body, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return bytes(resp.read())
        except urllib.error.HTTPError as exc:
            raise RuntimeError(
                f"{self.name} refused POST {path}: HTTP {exc.code}: {exc.read()[:2000]!r}"
            ) from exc

    def import_lines(self, lines: Iterable[str]) -> None:
        """Import Prometheus text lines (millisecond timestamps), then flush them to queries."""
        self.post("/api/v1/import/prometheus", ("\n".join(lines) + "\n").encode())
        self.flush()

    def flush(self) -> None:
        """Make every imported sample visible to queries now (``/internal/force_flush``)."""
        with urllib.request.urlopen(self.url + "/internal/force_flush", timeout=30) as resp:
            resp.read()


def import_scenarios(server: VictoriaMetricsServer, scenarios: Iterable[Scenario]) -> None:
    """Every scenario's samples, exactly as promtool backfills them, through the import API."""
    for sc in scenarios:
        server.scenarios[sc.name] = sc
        server.post(
            "/api/v1/import/prometheus",
            ("\n".join(prometheus_text_ms(sc.openmetrics())) + "\n").encode(),
        )
    server.flush()


class VmalertServer(_Server):
    """``vmalert`` on 127.0.0.1 evaluating ``rules`` (Prometheus rule-file YAML) against ``datasource``.

    Its notifier is a port nobody listens on: the scenarios' rules are evaluated now, on
    data months old, and the tests read only the rules' definitions through VictoriaMetrics.
    """

    name = "vmalert"
    ready_path = "/health"

    def __init__(self, root: Path, datasource: str, rules: str) -> None:
        super().__init__(root)
        self.datasource = datasource
        self.rules = rules

    def command(self) -> list[str]:
        self.root.mkdir(parents=True, exist_ok=True)
        rules = self.root / "rules.yml"
        rules.write_text(self.rules, encoding="utf-8")
        return [
            ensure_installed("vmalert", "victoria-metrics"),
            f"-rule={rules}",
            f"-datasource.url={self.datasource}",
            f"-notifier.url=http://127.0.0.1:{free_port()}",
            f"-httpListenAddr=127.0.0.1:{self.port}",
            "-evaluationInterval=15s",
            "-loggerLevel=FATAL",
        ]
