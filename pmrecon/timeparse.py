"""Parse the time forms accepted by ``--from``, ``--to``, ``--ack`` and friends."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo

from .errors import UsageError
from .model import Window

FORMS = (
    "RFC 3339 (2026-03-01T10:00:00Z, 2026-03-01T11:00:00+01:00), "
    "'YYYY-MM-DD HH:MM[:SS]' in the configured zone, Unix epoch seconds, "
    "or now / now-90m / now-2h / now-1d"
)

_RELATIVE = re.compile(r"^now(?:\s*([+-])\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w))?$")
_LOCAL = re.compile(r"^(\d{4}-\d{2}-\d{2})[ T](\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)$")
_EPOCH = re.compile(r"^\d{9,11}(?:\.\d+)?$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_time(
    value: str, tz: str = "UTC", now: dt.datetime | None = None, option: str = "--from"
) -> dt.datetime:
    """One time form to an aware UTC datetime, or a one-line UsageError naming the forms."""
    text = str(value).strip()
    now = now or dt.datetime.now(dt.timezone.utc)
    zone = zoneinfo.ZoneInfo(tz)
    try:
        m = _RELATIVE.match(text)
        if m:
            if not m.group(1):
                return now
            delta = dt.timedelta(seconds=float(m.group(2)) * _UNITS[m.group(3)])
            return now - delta if m.group(1) == "-" else now + delta
        if _EPOCH.match(text):
            return dt.datetime.fromtimestamp(float(text), tz=dt.timezone.utc)
        m = _LOCAL.match(text)
        if m:
            naive = dt.datetime.fromisoformat(f"{m.group(1)}T{m.group(2)}")
            return _localize(naive, zone, text, option).astimezone(dt.timezone.utc)
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        if parsed.tzinfo is None:
            return _localize(parsed, zone, text, option).astimezone(dt.timezone.utc)
        return parsed.astimezone(dt.timezone.utc)
    except (ValueError, OverflowError, OSError):
        raise UsageError(f"{option}: cannot read time {value!r}; accepted forms: {FORMS}") from None


def _localize(naive: dt.datetime, zone: zoneinfo.ZoneInfo, text: str, option: str) -> dt.datetime:
    """Attach ``zone``; refuse a wall-clock time that a DST change skipped, say which of two it took."""
    aware = naive.replace(tzinfo=zone)
    roundtrip = aware.astimezone(dt.timezone.utc).astimezone(zone).replace(tzinfo=None)
    if roundtrip != naive:
        raise UsageError(
            f"{option}: {text!r} does not exist in {zone.key} (skipped by a daylight-saving change); "
            f"give an offset, e.g. {naive.isoformat()}+01:00"
        )
    return aware


def parse_window(
    start: str,
    end: str,
    tz: str = "UTC",
    max_seconds: float = 7 * 86400,
    now: dt.datetime | None = None,
) -> Window:
    """``--from``/``--to`` to a checked window: in the past, in order, at most ``max_seconds`` long."""
    now = now or dt.datetime.now(dt.timezone.utc)
    t1 = parse_time(start, tz, now, "--from")
    t2 = parse_time(end, tz, now, "--to")
    # A little slack: "now" read twice, clocks of the servers a few seconds ahead.
    if t1 > now + dt.timedelta(seconds=60):
        raise UsageError(f"--from {start!r} is in the future; give a start before now")
    if t2 > now + dt.timedelta(seconds=60):
        raise UsageError(f"--to {end!r} is in the future; use --to now for an incident still open")
    if t1 >= t2:
        raise UsageError(f"--from {start!r} must be before --to {end!r}")
    if (t2 - t1).total_seconds() > max_seconds:
        raise UsageError(
            f"window {start!r} → {end!r} is longer than the maximum of {_human(max_seconds)}; "
            f"narrow it, or raise max_window in the config"
        )
    return Window(t1, t2)


def _human(seconds: float) -> str:
    """``7 days``, ``6 hours``: a limit as people say it."""
    if seconds % 86400 == 0:
        return f"{int(seconds // 86400)} days"
    if seconds % 3600 == 0:
        return f"{int(seconds // 3600)} hours"
    return f"{int(seconds)} seconds"
