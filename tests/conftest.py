from tests.infra.es_fixtures import es_node  # noqa: F401
from tests.infra.prom_fixtures import alertmanager, live_prometheus, prometheus  # noqa: F401
