"""Old home of three toolkit helpers, kept while connectors/elasticsearch.py imports them.

Use :mod:`connectors.toolkit` instead; this module goes once Elasticsearch has moved.
"""

from __future__ import annotations

from connectors.toolkit.credentials import redact_url
from connectors.toolkit.failures import error_reason
from connectors.toolkit.settings import settings_with_defaults

__all__ = ["error_reason", "redact_url", "settings_with_defaults"]
