"""Instants between the model's two forms: aware UTC ``datetime`` and epoch seconds.

Inputs: datetimes (naive ones are taken as UTC) or epoch seconds. Outputs: the other
form. The analysis computes in epoch seconds and hands datetimes to the findings.
Pure: no I/O, no clock.
"""

from __future__ import annotations

import datetime as dt
import math

UTC = dt.timezone.utc


def epoch(t: dt.datetime) -> float:
    """Epoch seconds of ``t`` (a naive ``t`` is UTC)."""
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return t.timestamp()


def utc_time(seconds: float | None) -> dt.datetime | None:
    """The aware UTC datetime of epoch ``seconds``; ``None`` for ``None`` or a non-finite value."""
    if seconds is None or not math.isfinite(seconds):
        return None
    # Round to the millisecond so that float noise never leaks into the output.
    return dt.datetime.fromtimestamp(round(seconds, 3), tz=UTC)


def utc_time_of(seconds: float) -> dt.datetime:
    """:func:`utc_time` of a finite number of seconds (never ``None``)."""
    out = utc_time(seconds)
    assert out is not None
    return out


def as_utc(t: dt.datetime | None) -> dt.datetime | None:
    """``t`` in UTC (a naive ``t`` is taken as UTC), or ``None``."""
    if t is None:
        return None
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)
