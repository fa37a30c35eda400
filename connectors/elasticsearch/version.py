"""Which Elasticsearch major answers, so that the client speaks its dialect.

The version is read first from ``GET /`` with a plain JSON ``Accept``, then from
``GET /_nodes/_local`` (servers without the root endpoint, or an API key without the
``monitor`` privilege), then from the server's own answer to a ``compatible-with`` probe,
which names the versions it accepts; ``server_major`` in the settings overrides all this.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from connectors.toolkit.failures import RequestFailed, major
from pmrecon.model import Warning

from .failures import major_from_media_error
from .queries import Queries, index_path
from .transport import CLIENT_MAJOR


def detect_version(queries: Queries, warnings: list[Warning]) -> str | None:
    """The server's version; sets the connection's compatibility header."""
    compat = queries.connection.compat
    forced = queries.connection.settings["server_major"]
    version = asked_version(queries)
    if version is None and not forced:
        version = _probe_major(queries)
    if forced:
        compat.major = int(forced)
    elif version:
        compat.major = major(version)
    if compat.major is None:
        compat.major = CLIENT_MAJOR
        warnings.append(
            Warning(
                queries.name,
                f"source {queries.name!r}: server version unknown (GET / and /_nodes/_local refused); "
                f"assuming {CLIENT_MAJOR}.x: set server_major if queries fail",
                code="version_unknown",
                params={"major": CLIENT_MAJOR},
            )
        )
    return version or (f"{forced}.x" if forced else None)


def asked_version(
    queries: Queries, check_root: Callable[[Mapping[str, Any]], None] | None = None
) -> str | None:
    """The version ``GET /`` names, or ``GET /_nodes/_local`` when the first is refused (403).

    ``check_root`` sees the root answer first (it raises when the server is another product)."""
    rec = queries.record("server version", "GET /", endpoint="/")
    try:
        info = queries.raw("GET", "/", record=rec, context="asking the server version: GET /")
        if isinstance(info, Mapping):
            if check_root is not None:
                check_root(info)
            return str((info.get("version") or {}).get("number") or "") or None
        return None
    except RequestFailed as exc:
        if exc.fatal and exc.status != 403:  # no 'monitor' privilege: ask otherwise
            raise
        rec.warnings[-1:] = [f"GET / answered HTTP {exc.status}; asking /_nodes/_local"]
    rec2 = queries.record("server version", "GET /_nodes/_local/version", endpoint="/_nodes/_local")
    try:
        nodes = queries.raw(
            "GET",
            "/_nodes/_local",
            params={"filter_path": "nodes.*.version"},
            record=rec2,
            context="asking the server version: GET /_nodes/_local",
        )
        for n in ((nodes or {}).get("nodes") or {}).values():
            return str(n.get("version") or "") or None
    except RequestFailed as exc2:
        if exc2.fatal and exc2.status != 403:
            raise
    return None


def _probe_major(queries: Queries) -> str | None:
    """Ask with the client's own ``compatible-with``: an older server names what it accepts."""
    compat = queries.connection.compat
    compat.major = CLIENT_MAJOR
    rec = queries.record(
        "server version (compatibility probe)",
        {"fields": "@timestamp"},
        endpoint="/_field_caps",
        index=queries.index,
    )
    try:
        queries.raw(
            "GET",
            index_path(queries.index, "_field_caps"),
            params={"fields": "@timestamp", "ignore_unavailable": "true"},
            record=rec,
            context="probing the server version",
        )
        return f"{CLIENT_MAJOR}.x"
    except RequestFailed as exc:
        if exc.kind == "version":
            found = major_from_media_error(str(exc))
            if found:
                return f"{found}.x"
        if exc.fatal and exc.kind != "version":
            raise
        return None
    finally:
        compat.major = None
