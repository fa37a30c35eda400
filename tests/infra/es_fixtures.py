"""pytest fixtures for real Elasticsearch nodes (see tests/infra/es.py).

Import them into tests/conftest.py::

    from tests.infra.es_fixtures import es_node  # noqa: F401

``es_node`` is session-scoped and parametrized over the two pinned versions (ids ``es8`` and
``es9``): every test that uses it runs once against each major. pytest groups the tests by
parameter, so at most one node runs at a time; each is stopped when its group is done.

A module whose tests hold for OpenSearch too parametrizes the same fixture over a third server
(``pytestmark = SEARCH_SERVERS``, id ``os2``): the node is then an
:class:`~tests.infra.opensearch.OpenSearchNode` (``.product`` says which). The Elasticsearch
nodes are the same instances for every module (pytest caches them by parameter).

Set ``PMRECON_SKIP_ES=1`` to skip these tests. Otherwise a node that cannot start is a test
error with the node's log tail, never a skip: CI must not pass without the real server.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from .es import ElasticsearchNode, pinned_version
from .opensearch import OpenSearchNode, pinned_opensearch_version

ES_VERSION_PARAMS = [
    pytest.param(pinned_version(8), id="es8"),
    pytest.param(pinned_version(9), id="es9"),
]
#: A parameter of ``es_node`` that starts OpenSearch: ``opensearch:<version>``, as
#: scripts/fetch-elasticsearch names it.
OPENSEARCH_PARAM = pytest.param(f"opensearch:{pinned_opensearch_version()}", id="os2")
#: Elasticsearch 8 and 9, then OpenSearch: for a module whose tests hold on all three.
SEARCH_SERVERS = pytest.mark.parametrize(
    "es_node", [*ES_VERSION_PARAMS, OPENSEARCH_PARAM], indirect=True
)


@pytest.fixture(scope="session", params=ES_VERSION_PARAMS)
def es_node(request: pytest.FixtureRequest) -> Iterator[ElasticsearchNode]:
    """A running single-node Elasticsearch (``.url``, ``.version``, ``.major``, ``.product``),
    or OpenSearch for an ``opensearch:<version>`` parameter."""
    if os.environ.get("PMRECON_SKIP_ES") == "1":
        pytest.skip("PMRECON_SKIP_ES=1: Elasticsearch tests skipped")
    param = str(request.param)
    if param.startswith("opensearch:"):
        node: ElasticsearchNode = OpenSearchNode(param.partition(":")[2])
    else:
        node = ElasticsearchNode(param)
    try:
        node.start()
    except Exception as e:
        pytest.fail(f"{node.display} {node.version} did not start: {e}", pytrace=False)
    try:
        yield node
    finally:
        node.stop()
