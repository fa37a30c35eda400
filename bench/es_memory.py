"""Benchmark: peak memory of an Elasticsearch collect over 1,000,000 matching log lines vs 10,000.

Issue 4 asks that the peak memory of a build over >= 1,000,000 matching documents stays within
10 % of one over 10,000: the connector must count on the server and page with bounded pages.

Starts a real node (tests/infra/es.py, the pinned 9.x unless --version), bulk-loads two indices
of generated ECS logs over the same 4-hour span (2 h baseline with 20 % of the documents, 2 h
window with 80 %: 1,000,000 matching lines by default for the large one), then runs
``ElasticsearchSource.collect`` on each in a fresh Python process and reads that process's peak
RSS (``VmHWM``) after the collect, and the Python heap peak of a second collect measured
with tracemalloc (what the connector itself allocates, without the imports). The documents are a worst case for signatures: 30 % are
errors, half of them without ``error.type`` and with a message holding a UUID and numbers, so
nearly every such message is a distinct raw value (~190,000 of them in the large index, beyond
``signatures.max_distinct_messages``).

    .venv/bin/python bench/es_memory.py [--small 10000] [--large 1000000] [--version 9.5.4]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import resource
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

UTC = dt.timezone.utc
START = dt.datetime(2026, 7, 1, 8, 0, tzinfo=UTC)  # baseline 08:00-10:00, window 10:00-12:00
SPAN_S = 4 * 3600
SERVICES = ["checkout", "payments", "cart", "search", "auth", "orders", "shipping", "profile"]
ERROR_TYPES = ["TimeoutError", "ConnectionResetError", "OOMKilled", "PoolExhausted", "Http500"]
TEMPLATES = [
    "Upstream {svc} timed out after {n}ms for order {u}",
    "Cannot reserve stock item {n} for cart {u}",
    "Payment {u} declined by provider (code {n})",
    "Slow query took {n}ms on shard {m} for request {u}",
]
MAPPING: dict[str, Any] = {
    "properties": {
        "@timestamp": {"type": "date"},
        "message": {
            "type": "text",
            "fields": {"keyword": {"type": "keyword", "ignore_above": 1024}},
        },
        "log": {"properties": {"level": {"type": "keyword"}}},
        "service": {"properties": {"name": {"type": "keyword"}}},
        "error": {"properties": {"type": {"type": "keyword"}}},
        "user": {"properties": {"id": {"type": "keyword"}}},
        "host": {"properties": {"name": {"type": "keyword"}}},
        "trace": {"properties": {"id": {"type": "keyword"}}},
        "event": {"properties": {"category": {"type": "keyword"}}},
    }
}


def docs(n: int, index: str, seed: int = 4) -> Iterator[dict[str, Any]]:
    """``n`` ECS documents, generated lazily: 20 % spread over the baseline, 80 % over the window."""
    rng = random.Random(seed)
    half_ms = SPAN_S * 1000 // 2
    t0 = int(START.timestamp() * 1000)
    n_base = n // 5
    for i in range(n):
        if i < n_base:
            at = t0 + i * half_ms // n_base
        else:
            at = t0 + half_ms + (i - n_base) * half_ms // (n - n_base)
        svc = SERVICES[rng.randrange(len(SERVICES))]
        r = rng.random()
        doc: dict[str, Any] = {
            "_index": index,
            "@timestamp": at,
            "service": {"name": svc},
            "host": {"name": f"{svc}-{rng.randrange(4)}"},
            "user": {"id": f"u{rng.randrange(20000):05d}"},
            "trace": {"id": f"{rng.getrandbits(64):016x}"},
            "event": {"category": "web"},
        }
        if r < 0.30:
            doc["log"] = {"level": "error"}
            u = uuid.UUID(int=rng.getrandbits(128), version=4)
            tpl = TEMPLATES[rng.randrange(len(TEMPLATES))]
            doc["message"] = tpl.format(svc=svc, n=rng.randrange(100000), m=rng.randrange(64), u=u)
            if rng.random() < 0.5:
                doc["error"] = {"type": ERROR_TYPES[rng.randrange(len(ERROR_TYPES))]}
        elif r < 0.40:
            doc["log"] = {"level": "warn"}
            doc["message"] = f"Retrying call to {svc} (attempt {rng.randrange(5)})"
        else:
            doc["log"] = {"level": "info"}
            doc["message"] = f"GET /api/{svc}/items 200 in {rng.randrange(200)}ms"
        yield doc


def load(url: str, major: int, index: str, n: int) -> float:
    from elasticsearch import helpers

    from tests.infra.es import make_client

    es = make_client(url, major, request_timeout=300)
    started = time.monotonic()
    try:
        es.indices.create(
            index=index,
            settings={"number_of_shards": 1, "number_of_replicas": 0, "refresh_interval": "-1"},
            mappings=MAPPING,
        )
        for ok, item in helpers.parallel_bulk(
            es, docs(n, index), thread_count=2, chunk_size=5000, queue_size=2
        ):
            if not ok:
                raise RuntimeError(f"bulk item failed: {item}")
        es.indices.put_settings(index=index, settings={"refresh_interval": "1s"})
        es.indices.refresh(index=index)
        es.indices.forcemerge(index=index, max_num_segments=1, wait_for_completion=True)
        count = es.count(index=index)["count"]
        if count != n:
            raise RuntimeError(f"{index}: {count} documents indexed, expected {n}")
    finally:
        es.close()
    return time.monotonic() - started


def peak_rss_kb() -> int:
    """This process's peak RSS: ``VmHWM`` (reset by exec, unlike ``ru_maxrss``, which keeps the
    forking parent's peak), else ``ru_maxrss``."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def collect_child(url: str, index: str) -> None:
    """In a fresh process: one collect, then its peak RSS and a summary as JSON on stdout."""
    import tracemalloc

    from connectors.base import CollectRequest, SourceContext
    from connectors.elasticsearch import ElasticsearchSource
    from pmrecon.model import Window
    from pmrecon.redact import Redactor

    before = peak_rss_kb()
    window = Window(START + dt.timedelta(hours=2), START + dt.timedelta(hours=4))
    baseline = Window(START, START + dt.timedelta(hours=2))
    src = ElasticsearchSource(
        "logs", {"hosts": [url], "index": index, "timeout": 300}, SourceContext(redactor=Redactor())
    )
    started = time.monotonic()
    ev = src.collect(CollectRequest(window=window, baseline=baseline))
    took = time.monotonic() - started
    peak = peak_rss_kb()
    # a second collect under tracemalloc: the Python heap the collect itself needs at its peak
    src2 = ElasticsearchSource(
        "logs", {"hosts": [url], "index": index, "timeout": 300}, SourceContext(redactor=Redactor())
    )
    tracemalloc.start()
    src2.collect(CollectRequest(window=window, baseline=baseline))
    _, heap_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    logs = ev.logs
    assert logs is not None
    print(
        json.dumps(
            {
                "rss_after_imports_kb": before,
                "peak_rss_kb": peak,
                "collect_heap_peak_kb": heap_peak // 1024,
                "seconds": round(took, 2),
                "matching_documents": logs.total_documents,
                "error_documents": logs.error_documents,
                "signatures": len(logs.signatures),
                "queries": len(ev.sources[0].queries),
                "warnings": [w.code for w in ev.warnings],
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=12_500)
    parser.add_argument(
        "--large", type=int, default=1_250_000, help="documents (80 %% in the window)"
    )
    parser.add_argument(
        "--version", default=None, help="Elasticsearch version (default: pinned 9.x)"
    )
    parser.add_argument("--heap", default="1g")
    parser.add_argument("--collect", nargs=2, metavar=("URL", "INDEX"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.collect:
        collect_child(*args.collect)
        return

    from tests.infra.es import ElasticsearchNode, pinned_version

    version = args.version or pinned_version(9)
    node = ElasticsearchNode(version, heap=args.heap)
    node.start()
    try:
        print(f"Elasticsearch {version} at {node.url} (heap {args.heap})")
        results = {}
        for label, n in (("small", args.small), ("large", args.large)):
            index = f"pmrecon-bench-{label}"
            secs = load(node.url, node.major, index, n)
            print(f"loaded {n:,} documents into {index} in {secs:.0f} s")
        for label in ("small", "large"):
            index = f"pmrecon-bench-{label}"
            proc = subprocess.run(
                [sys.executable, __file__, "--collect", node.url, index],
                capture_output=True,
                text=True,
                check=False,
            )
            if proc.returncode != 0:
                raise SystemExit(f"collect on {index} failed:\n{proc.stderr[-3000:]}")
            results[label] = json.loads(proc.stdout.strip().splitlines()[-1])
            r = results[label]
            print(
                f"{label:5}: {r['matching_documents']:>9,} matching lines ({r['error_documents']:,} errors), "
                f"peak RSS {r['peak_rss_kb'] / 1024:.1f} MiB (after imports {r['rss_after_imports_kb'] / 1024:.1f} MiB), "
                f"Python heap peak of the collect {r['collect_heap_peak_kb'] / 1024:.1f} MiB, "
                f"{r['seconds']:.1f} s, {r['queries']} queries, {r['signatures']} signatures, "
                f"warnings: {', '.join(r['warnings']) or 'none'}"
            )
        small, large = results["small"]["peak_rss_kb"], results["large"]["peak_rss_kb"]
        ratio = large / small
        print(
            f"peak RSS large / small = {ratio:.3f} ({(ratio - 1) * 100:+.1f} %); target: within 10 %"
        )
        if ratio > 1.10:
            raise SystemExit(1)
    finally:
        node.stop()


if __name__ == "__main__":
    main()
