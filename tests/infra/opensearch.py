"""Real, single-node OpenSearch servers for the test suite: :class:`ElasticsearchNode`'s way.

The distribution is OpenSearch's own "integ-test-zip" (server core and transport-netty4: no
security plugin, no JDK), fetched by ``scripts/fetch-elasticsearch opensearch:<version>`` into
``${PMRECON_CACHE:-$HOME/.cache/pmrecon}/opensearch``. Like Elasticsearch it refuses to run as
root, so it runs as the same unprivileged user (tests/infra/machine.py); 2.x runs on Java 17
(``OPENSEARCH_JAVA_HOME``). Its root answer names ``"distribution": "opensearch"``; the
Elasticsearch Python clients refuse to talk to it, ``opensearch-py`` does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .es import (
    FETCH_SCRIPT,
    ElasticsearchNode,
    ensure_distribution,
    find_java_home,
    stream_docs,
)


def pinned_opensearch_version() -> str:
    """The OpenSearch version pinned in scripts/fetch-elasticsearch (``OPENSEARCH_VERSIONS=``)."""
    text = FETCH_SCRIPT.read_text(encoding="utf-8")
    m = re.search(r'^OPENSEARCH_VERSIONS="([^" ]+)"\s*$', text, re.MULTILINE)
    if not m:
        raise RuntimeError(f"no OPENSEARCH_VERSIONS=... line in {FETCH_SCRIPT}")
    return m.group(1)


class OpenSearchNode(ElasticsearchNode):
    """One single-node OpenSearch cluster on 127.0.0.1 (see :class:`ElasticsearchNode`)."""

    product = "opensearch"
    env_prefix = "OPENSEARCH"
    short = "os"
    display = "OpenSearch"

    def distribution(self) -> Path:
        return ensure_distribution(self.version, self.product)

    def java_home(self) -> str:
        return find_java_home(self.major, self.product)

    def adjust_config(self, conf: Path, workdir: Path) -> None:
        """Point jvm.options' relative paths (gc log, error file, heap dumps) into the node's
        temp dir: the JVM resolves them in the distribution, which is read-only for the node."""
        options = conf / "jvm.options"
        text = options.read_text(encoding="utf-8")
        text = re.sub(r"(?<=[=:])logs/", f"{workdir}/logs/", text)
        text = text.replace("-XX:HeapDumpPath=data", f"-XX:HeapDumpPath={workdir}/data")
        options.write_text(text, encoding="utf-8")

    def product_settings(self) -> dict[str, Any]:
        # the integ-test zip has no security plugin: nothing to switch off
        return {}


def make_opensearch_client(url: str, **kwargs: Any) -> Any:
    """An ``opensearchpy.OpenSearch`` client for the node at ``url``."""
    from opensearchpy import OpenSearch

    kwargs.setdefault("timeout", 60)
    return OpenSearch([url], **kwargs)


def bulk_load_opensearch(
    url: str, index: str, docs_iterable: Iterable[Mapping[str, Any]], chunk: int = 5000
) -> int:
    """Index ``docs_iterable`` (a doc may carry ``_index``/``_id``), then refresh; the count."""
    from opensearchpy import helpers

    return stream_docs(
        make_opensearch_client(url), helpers.streaming_bulk, index, docs_iterable, chunk
    )
