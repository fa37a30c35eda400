from tests.infra.es_fixtures import es_node  # noqa: F401
