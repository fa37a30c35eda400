"""Record the HTTP exchanges of one Elasticsearch connector collect, for the unit tests.

    .venv/bin/python tests/connectors/elasticsearch/recorded/record.py        # both pinned majors

For each pinned Elasticsearch version: start a node (tests/infra/es.py), load the ``flapping``
scenario's logs into ``pmrecon-rec-logs``, run ``ElasticsearchSource.collect`` over the
scenario's window through a recording proxy on 127.0.0.1, and write every exchange
(method, path, the Accept/Content-Type sent, JSON body, status, answer) to
``collect_es<major>.json`` beside this script. tests/connectors/elasticsearch/test_elasticsearch_unit.py replays them.
"""

from __future__ import annotations

import http.server
import json
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[3]))  # the checkout's root

from connectors.base import CollectRequest, SourceContext  # noqa: E402
from connectors.elasticsearch import ElasticsearchSource  # noqa: E402
from pmrecon.model import Window  # noqa: E402
from tests.connectors.elasticsearch.test_elasticsearch_live import ECS_MAPPING  # noqa: E402
from tests.infra.es import ElasticsearchNode, bulk_load, make_client, pinned_versions  # noqa: E402
from tests.infra.httpserver import serve  # noqa: E402
from tests.scenarios import SCENARIOS, nested  # noqa: E402

INDEX = "pmrecon-rec-logs"
SCENARIO = "flapping"


class RecordingProxy:
    """Forwards every request to ``upstream`` and keeps the exchange."""

    def __init__(self, upstream: str) -> None:
        self.exchanges: list[dict[str, Any]] = []
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                data = self.rfile.read(length) if length else None
                req = urllib.request.Request(upstream + self.path, data=data, method=self.command)
                for h in ("Accept", "Content-Type"):
                    if self.headers.get(h):
                        req.add_header(h, self.headers[h])
                try:
                    with urllib.request.urlopen(req, timeout=60) as resp:
                        status, body, headers = resp.status, resp.read(), resp.headers
                except urllib.error.HTTPError as exc:
                    status, body, headers = exc.code, exc.read(), exc.headers
                proxy.exchanges.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "accept": self.headers.get("Accept"),
                        "content_type": self.headers.get("Content-Type"),
                        "body": json.loads(data) if data else None,
                        "status": status,
                        "response": json.loads(body) if body else None,
                    }
                )
                self.send_response(status)
                for h in ("Content-Type", "X-Elastic-Product"):
                    if headers.get(h):
                        self.send_header(h, headers[h])
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_DELETE = do_PUT = _serve  # noqa: N815

            def log_message(self, *args: object) -> None:
                return

        self.server = serve(Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def record(version: str) -> Path:
    sc = SCENARIOS[SCENARIO]()
    with ElasticsearchNode(version) as node:
        client = make_client(node.url, node.major)
        client.indices.create(
            index=INDEX,
            settings={"number_of_shards": 1, "number_of_replicas": 0},
            mappings=ECS_MAPPING,
        )
        client.close()
        bulk_load(node.url, INDEX, (nested(d) for d in sc.log_docs()), major=node.major)
        proxy = RecordingProxy(node.url)
        try:
            # one query at a time: the exchanges are written in the order a sequential run
            # sends them (the replaying server matches them by content, in any order)
            src = ElasticsearchSource(
                "logs",
                {"hosts": [proxy.url], "index": INDEX, "retries": 0, "max_concurrency": 1},
                SourceContext(),
            )
            src.collect(CollectRequest(window=Window(*sc.window), baseline=Window(*sc.baseline)))
        finally:
            proxy.close()
        out = HERE / f"collect_es{node.major}.json"
        out.write_text(
            json.dumps(
                {"version": version, "scenario": SCENARIO, "exchanges": proxy.exchanges},
                indent=1,
                sort_keys=True,
            )
            + "\n",
            encoding="utf-8",
        )
        return out


if __name__ == "__main__":
    for v in sys.argv[1:] or pinned_versions():
        print(record(v))
