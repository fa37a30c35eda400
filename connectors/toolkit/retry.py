"""The one retry policy: repeat what may pass, never what only adds load.

A request is repeated (``retries`` times at most, with exponential backoff and the
server's ``Retry-After`` honoured) after a connection error or a transient status. A read
timeout is never repeated: it is a slow query, and sending it again only adds load to a
server that is already struggling.

Transient statuses are :data:`TRANSIENT_STATUS` (busy, or a gateway in between failed)
for every source. HTTP 500 differs by server, hence ``internal_errors``: the Prometheus
family (Prometheus, Alertmanager, Thanos, Mimir) answers 500 when its own storage or a
store behind a querier failed for a moment, which a repeat may get past; Elasticsearch
answers 500 when the query itself failed on the shards, which a repeat only repeats (so
its client's default leaves 500 out, and so does its connector).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from urllib3.util.retry import Retry

#: Statuses every source repeats: 429 (busy) and 502, 503, 504 (a gateway or the server
#: is momentarily unable to answer).
TRANSIENT_STATUS = (429, 502, 503, 504)
#: An internal server error, repeated only where it is known to pass (``internal_errors``).
INTERNAL_ERROR = 500


@dataclass(frozen=True)
class RetryPolicy:
    """How many times, how far apart, and after which statuses a request is repeated."""

    retries: int
    backoff: float = 0.5
    internal_errors: bool = False  # also repeat HTTP 500 (see the module's docstring)

    @classmethod
    def from_settings(
        cls, settings: Mapping[str, Any], *, internal_errors: bool = False
    ) -> RetryPolicy:
        """The policy of a source's ``retries`` and ``retry_backoff`` settings."""
        return cls(
            retries=int(settings["retries"]),
            backoff=float(settings.get("retry_backoff", 0.5)),
            internal_errors=internal_errors,
        )

    @property
    def statuses(self) -> tuple[int, ...]:
        """The statuses repeated, in ascending order."""
        extra = (INTERNAL_ERROR,) if self.internal_errors else ()
        return tuple(sorted((*TRANSIENT_STATUS, *extra)))

    def urllib3(self) -> Retry:
        """The policy as a urllib3 ``Retry``, for a requests ``HTTPAdapter``."""
        return Retry(
            total=self.retries,
            connect=self.retries,
            read=0,  # a read timeout is a slow query: repeating it only adds load
            status=self.retries,
            other=0,
            backoff_factor=self.backoff,
            status_forcelist=self.statuses,
            allowed_methods=frozenset({"GET", "POST"}),
            raise_on_status=False,
            respect_retry_after_header=True,
        )
