"""The real servers of the test suite, loaded with the benchmark's data and cached between runs.

- Prometheus: the OpenMetrics stream is backfilled with ``promtool`` into ONE block per
  486 h range (``--max-block-duration``: promtool re-reads its input once per block, and a
  single block leaves the server nothing to compact while it is measured). The TSDB dir is
  cached; each run starts Prometheus on a copy.
- Elasticsearch: the logs are bulk-loaded into daily indices (1 shard, no replica, request
  cache off so that repeated queries cost what a first one costs), refreshed and force-merged
  to one segment, and the node is stopped cleanly. Its data dir is cached; each run starts a
  node on a copy (``path.data`` overridden), so loading happens once per dataset.

Cache: ``${PMRECON_CACHE:-$HOME/.cache/pmrecon}/bench``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import http.client
import json
import os
import queue
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.dataset import LOG_MAPPING, Dataset  # noqa: E402
from tests.infra import machine  # noqa: E402
from tests.infra.es import ElasticsearchNode  # noqa: E402
from tests.infra.prometheus import (  # noqa: E402
    PrometheusServer,
    ensure_installed,
    promtool_backfill,
)

Say = Callable[[str], None]


def cache_root() -> Path:
    """Where the loaded server data of each dataset is kept between runs."""
    return machine.bench_cache()


def _dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)


# --------------------------------------------------------------------------- Prometheus


def prometheus_tsdb(ds: Dataset, say: Say, *, keep_openmetrics: bool = False) -> tuple[Path, dict]:
    """The cached TSDB dir of ``ds`` (generated and backfilled on first use) and its facts."""
    base = cache_root() / ds.key("prometheus")
    tsdb, facts_path = base / "tsdb", base / "facts.json"
    if facts_path.is_file() and tsdb.is_dir():
        return tsdb, json.loads(facts_path.read_text())
    ensure_installed("promtool")  # before generating gigabytes for it
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    om = base / "metrics.om"
    say(f"generating {ds.days:g} days x {ds.services} services of metrics into {om}")
    started = time.monotonic()
    with open(om, "w", encoding="utf-8", buffering=1 << 20) as f:
        facts = ds.write_openmetrics(f)
    facts["generate_seconds"] = round(time.monotonic() - started, 1)
    facts["openmetrics_bytes"] = om.stat().st_size
    say(
        f"  {facts['series']} series, {facts['samples']:,} samples, "
        f"{facts['openmetrics_bytes'] / 1e6:.0f} MB in {facts['generate_seconds']} s; backfilling"
    )
    started = time.monotonic()
    staging = base / "tsdb.tmp"
    promtool_backfill(om, staging, max_block_duration="486h")
    staging.rename(tsdb)
    facts["backfill_seconds"] = round(time.monotonic() - started, 1)
    facts["tsdb_bytes"] = _dir_bytes(tsdb)
    facts["blocks"] = sum(1 for p in tsdb.iterdir() if p.is_dir())
    if not keep_openmetrics:
        om.unlink()
    say(f"  backfilled in {facts['backfill_seconds']} s: {facts['tsdb_bytes'] / 1e6:.0f} MB TSDB")
    _write_json(facts_path, facts)
    return tsdb, facts


@contextlib.contextmanager
def running_prometheus(ds: Dataset, tsdb: Path, work: Path) -> Iterator[PrometheusServer]:
    """Prometheus on a copy of the cached TSDB, with the dataset's alerting rules."""
    data = work / "prometheus-data"
    shutil.copytree(tsdb, data)
    server = PrometheusServer(work / "prometheus", data, rules=ds.rules_yaml())
    server.start()
    try:
        yield server
    finally:
        server.stop()


# --------------------------------------------------------------------------- Elasticsearch


def index_prefix(docs: int) -> str:
    """The daily indices of one log dataset: ``bench-1m-logs-2026.06.07``."""
    if docs % 1_000_000 == 0:
        label = f"{docs // 1_000_000}m"
    elif docs % 1000 == 0:
        label = f"{docs // 1000}k"
    else:
        label = str(docs)
    return f"bench-{label}-logs"


def _es_data_dir(src: Path | None) -> Path:
    """A fresh data dir the node's user can reach (a copy of ``src`` when given)."""
    work = Path(tempfile.mkdtemp(prefix="pmrecon-bench-es-"))
    data = work / "data"
    try:
        if src is None:
            data.mkdir()
        else:
            shutil.copytree(src, data, copy_function=_link_or_copy)
        machine.hand_to_es_user(work)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return data


def _link_or_copy(a: str, b: str) -> None:
    # Lucene files are write-once: hard links make the copy instant; the rest is copied.
    if "/index/" in a and not a.endswith("write.lock"):
        try:
            os.link(a, b)
            return
        except OSError:
            pass
    shutil.copy2(a, b)


def _es_node(version: str, data: Path, heap: str) -> ElasticsearchNode:
    return ElasticsearchNode(
        version,
        heap=heap,
        start_timeout=300,
        settings={
            "path.data": str(data),
            # fixed: the data dir belongs to this cluster across runs (the log glob wants this prefix)
            "cluster.name": "pmrecon-test-bench",
        },
    )


class _Http:
    """A keep-alive JSON client for one node (no client library: loading must be fast)."""

    def __init__(self, url: str, timeout: float = 600) -> None:
        host, port = url.removeprefix("http://").split(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=timeout)

    def request(self, method: str, path: str, body: Any = None, ndjson: bool = False) -> Any:
        data = None
        headers = {}
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            headers["Content-Type"] = "application/x-ndjson" if ndjson else "application/json"
        self.conn.request(method, path, body=data, headers=headers)
        resp = self.conn.getresponse()
        raw = resp.read()
        if resp.status >= 300:
            raise RuntimeError(f"{method} {path}: HTTP {resp.status}: {raw[:600]!r}")
        return json.loads(raw) if raw else None

    def close(self) -> None:
        self.conn.close()


def _load_docs(url: str, ds: Dataset, docs: int, say: Say) -> dict[str, Any]:
    """Create the daily indices and bulk-load ``docs`` background docs (plus bursts and changes)."""
    prefix = index_prefix(docs)
    client = _Http(url)
    day = ds.start.replace(hour=0, minute=0, second=0, microsecond=0)
    indices = []
    while day < ds.end:
        name = f"{prefix}-{day:%Y.%m.%d}"
        client.request(
            "PUT",
            f"/{name}",
            {
                "settings": {
                    "number_of_shards": 1,
                    "number_of_replicas": 0,
                    "refresh_interval": "-1",
                    "index.requests.cache.enable": False,
                },
                "mappings": LOG_MAPPING,
            },
        )
        indices.append(name)
        day += dt.timedelta(days=1)
    bodies: queue.Queue[bytes | None] = queue.Queue(maxsize=4)
    errors: list[BaseException] = []

    def sender() -> None:
        http_ = _Http(url)
        try:
            while True:
                body = bodies.get()
                if body is None:
                    return
                if errors:
                    continue
                try:
                    ans = http_.request(
                        "POST", "/_bulk?filter_path=errors,items.*.error", body, ndjson=True
                    )
                    if ans.get("errors"):
                        first = next(
                            (
                                i
                                for i in ans.get("items", [])
                                if any("error" in v for v in i.values())
                            ),
                            ans,
                        )
                        raise RuntimeError(f"bulk load rejected a document: {first}")
                except BaseException as exc:  # noqa: BLE001 - reported by the main thread
                    errors.append(exc)
        finally:
            http_.close()

    senders = [threading.Thread(target=sender, daemon=True) for _ in range(2)]
    for s in senders:
        s.start()
    started = time.monotonic()
    loaded = sent_bytes = 0
    last_say = started
    gen = ds.log_chunks(docs, prefix)
    try:
        for body, n in gen:
            if errors:
                break
            bodies.put(body)
            loaded += n
            sent_bytes += len(body)
            if time.monotonic() - last_say > 30:
                rate = loaded / (time.monotonic() - started)
                say(f"  {loaded:,} docs sent ({rate:,.0f} docs/s)")
                last_say = time.monotonic()
    finally:
        for _ in senders:
            bodies.put(None)
        for s in senders:
            s.join()
    if errors:
        raise RuntimeError(f"bulk load failed: {errors[0]}")
    load_seconds = time.monotonic() - started
    pattern = f"{prefix}-*"
    client.request("PUT", f"/{pattern}/_settings", {"index": {"refresh_interval": None}})
    client.request("POST", f"/{pattern}/_refresh")
    started = time.monotonic()
    client.request("POST", f"/{pattern}/_forcemerge?max_num_segments=1")
    merge_seconds = time.monotonic() - started
    client.request("POST", f"/{pattern}/_flush")
    stats = client.request("GET", f"/{pattern}/_stats/docs,store")
    client.close()
    prim = stats["_all"]["primaries"]
    count = int(prim["docs"]["count"])
    if count != loaded:
        raise RuntimeError(f"{pattern}: {count} docs searchable, {loaded} sent")
    return {
        "docs": count,
        "background_docs": docs,
        "bulk_bytes": sent_bytes,
        "store_bytes": int(prim["store"]["size_in_bytes"]),
        "indices": indices,
        "index_pattern": pattern,
        "load_seconds": round(load_seconds, 1),
        "docs_per_second": round(count / load_seconds) if load_seconds else None,
        "forcemerge_seconds": round(merge_seconds, 1),
    }


def es_data(
    ds: Dataset, doc_counts: list[int], version: str, say: Say, heap: str
) -> tuple[Path, dict]:
    """The cached ES data dir holding every dataset of ``doc_counts`` (loading the missing ones)."""
    base = cache_root() / ds.key("elasticsearch", version=version)
    data, facts_path = base / "data", base / "facts.json"
    facts: dict[str, Any] = json.loads(facts_path.read_text()) if facts_path.is_file() else {}
    if not data.is_dir():
        facts = {}
    missing = [n for n in doc_counts if str(n) not in facts]
    if not missing:
        return data, facts
    base.mkdir(parents=True, exist_ok=True)
    work_data = _es_data_dir(data if data.is_dir() else None)
    try:
        node = _es_node(version, work_data, heap)
        say(f"starting Elasticsearch {version} to load {', '.join(f'{n:,}' for n in missing)} docs")
        try:
            node.start()
            for n in missing:
                say(f"loading {n:,} log docs into {index_prefix(n)}-*")
                facts[str(n)] = _load_docs(node.url, ds, n, say)
                f = facts[str(n)]
                say(
                    f"  {f['docs']:,} docs, {f['bulk_bytes'] / 1e6:.0f} MB bulk, "
                    f"{f['store_bytes'] / 1e6:.0f} MB stored, {f['load_seconds']} s "
                    f"({f['docs_per_second']:,} docs/s), force-merge {f['forcemerge_seconds']} s"
                )
        finally:
            node.stop()
        # the node is stopped cleanly: its data dir becomes the cache
        staging = base / "data.new"
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(work_data, staging, symlinks=True)
    finally:
        shutil.rmtree(work_data.parent, ignore_errors=True)
    if data.exists():
        shutil.rmtree(data)
    staging.rename(data)
    _write_json(facts_path, facts)
    return data, facts


@contextlib.contextmanager
def running_elasticsearch(version: str, cached: Path, heap: str) -> Iterator[ElasticsearchNode]:
    """A node on a copy of the cached data dir."""
    data = _es_data_dir(cached)
    try:
        node = _es_node(version, data, heap)
        try:
            node.start()
            yield node
        finally:
            node.stop()
    finally:
        shutil.rmtree(data.parent, ignore_errors=True)
