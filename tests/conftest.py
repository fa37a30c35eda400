from tests.infra.es_fixtures import es_node  # noqa: F401
from tests.infra.prom_fixtures import alertmanager, live_prometheus, prometheus  # noqa: F401
from tests.schemacheck import (  # noqa: F401
    _every_written_file_at_the_end,
    _written_files_match_their_schemas,
    pytest_terminal_summary,
)
