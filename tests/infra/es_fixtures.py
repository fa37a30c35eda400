"""pytest fixtures for real Elasticsearch nodes (see tests/infra/es.py).

Import them into tests/conftest.py::

    from tests.infra.es_fixtures import es_node  # noqa: F401

``es_node`` is session-scoped and parametrized over the two pinned versions (ids ``es8`` and
``es9``): every test that uses it runs once against each major. pytest groups the tests by
parameter, so at most one node runs at a time; each is stopped when its group is done.

Set ``PMRECON_SKIP_ES=1`` to skip these tests. Otherwise a node that cannot start is a test
error with the node's log tail, never a skip: CI must not pass without the real server.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from .es import ElasticsearchNode, pinned_version

ES_VERSION_PARAMS = [
    pytest.param(pinned_version(8), id="es8"),
    pytest.param(pinned_version(9), id="es9"),
]


@pytest.fixture(scope="session", params=ES_VERSION_PARAMS)
def es_node(request: pytest.FixtureRequest) -> Iterator[ElasticsearchNode]:
    """A running single-node Elasticsearch (``.url``, ``.version``, ``.major``)."""
    if os.environ.get("PMRECON_SKIP_ES") == "1":
        pytest.skip("PMRECON_SKIP_ES=1: Elasticsearch tests skipped")
    node = ElasticsearchNode(request.param)
    try:
        node.start()
    except Exception as e:
        pytest.fail(f"Elasticsearch {request.param} did not start: {e}", pytrace=False)
    try:
        yield node
    finally:
        node.stop()
