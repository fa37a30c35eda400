from tests.infra.es_fixtures import es_node  # noqa: F401
from tests.infra.prom_fixtures import alertmanager, live_prometheus, prometheus  # noqa: F401

# --reverse, a temporary directory per run, and the check that nothing is left in it.
from tests.infra.run_guard import (  # noqa: F401
    pytest_addoption,
    pytest_collection_modifyitems,
    pytest_configure,
    pytest_sessionfinish,
    pytest_unconfigure,
)
from tests.schemacheck import (  # noqa: F401
    _every_written_file_at_the_end,
    _written_files_match_their_schemas,
    pytest_terminal_summary,
)
