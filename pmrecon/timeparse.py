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

#: Telemetry holds nothing older; and from here to ``LATEST`` every instant can be shown in
#: every zone (datetime stops at year 9999, and a zone is up to 26 hours from UTC).
EARLIEST = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
LATEST = dt.datetime(9000, 1, 1, tzinfo=dt.timezone.utc)
#: A little slack past now: "now" read twice, clocks of the servers a few seconds ahead.
FUTURE_SLACK = dt.timedelta(seconds=60)

_RELATIVE = re.compile(r"^now(?:\s*([+-])\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w))?$")
# A decimal fraction only on seconds, with "." or "," (ISO 8601 allows both). ISO 8601 puts
# a fraction on the last component written, so 10:00,5 is 10:00:30: easy to misread, and
# refused below with the ISO meaning spelled out.
_ABSOLUTE = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})"
    r"(?:[Tt ](?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:[.,](?P<fraction>\d{1,9}))?)?"
    r"(?P<offset>[Zz]|[+-]\d{2}(?::?\d{2})?)?)?$"
)
_FRACTION_OF_MINUTE = re.compile(
    r"^(?P<head>\d{4}-\d{2}-\d{2}[Tt ])(?P<hour>\d{1,2})(?::(?P<minute>\d{2}))?"
    r"[.,](?P<fraction>\d+)(?P<offset>[Zz]|[+-]\d{2}(?::?\d{2})?)?$"
)
_EPOCH = re.compile(r"^\d{9,11}(?:\.\d+)?$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_time(
    value: str, tz: str = "UTC", now: dt.datetime | None = None, option: str = "--from"
) -> dt.datetime:
    """One time form to an aware UTC datetime, or a one-line UsageError naming the forms.

    The instant must lie between 1970 and :data:`LATEST`; whether it may be in the future
    is the caller's rule (:func:`parse_window`, :func:`parse_instant`).
    """
    text = str(value).strip()
    now = now or dt.datetime.now(dt.timezone.utc)
    zone = zoneinfo.ZoneInfo(tz)
    try:
        parsed = _parse(text, zone, now, option)
    except OverflowError:
        parsed = None
    except (ValueError, OSError):
        raise UsageError(f"{option}: cannot read time {value!r}; accepted forms: {FORMS}") from None
    if parsed is None or not EARLIEST <= parsed < LATEST:
        raise UsageError(
            f"{option}: {value!r} is out of range; give a time after 1970-01-01 "
            f"(and not in the future)"
        )
    return parsed


def _parse(text: str, zone: zoneinfo.ZoneInfo, now: dt.datetime, option: str) -> dt.datetime:
    m = _RELATIVE.match(text)
    if m:
        if not m.group(1):
            return now
        delta = dt.timedelta(seconds=float(m.group(2)) * _UNITS[m.group(3)])
        return now - delta if m.group(1) == "-" else now + delta
    if _EPOCH.match(text):
        return dt.datetime.fromtimestamp(float(text), tz=dt.timezone.utc)
    m = _ABSOLUTE.match(text)
    if m is None:
        _refuse_fraction_of_minute(text, option)
        raise ValueError(text)
    day = dt.date.fromisoformat(m["date"])
    fraction = (m["fraction"] or "0")[:6].ljust(6, "0")
    wall = dt.datetime(
        day.year,
        day.month,
        day.day,
        int(m["hour"] or 0),
        int(m["minute"] or 0),
        int(m["second"] or 0),
        int(fraction),
    )
    if m["offset"] is None:
        return _localize(wall, zone, text, option).astimezone(dt.timezone.utc)
    return wall.replace(tzinfo=_offset(m["offset"])).astimezone(dt.timezone.utc)


def _offset(text: str) -> dt.timezone:
    """``Z``, ``+01:00``, ``-0530``, ``+01`` as a fixed zone (a ValueError past ±24 h)."""
    if text in ("Z", "z"):
        return dt.timezone.utc
    digits = text[1:].replace(":", "")
    delta = dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:] or 0))
    return dt.timezone(-delta if text[0] == "-" else delta)


def _refuse_fraction_of_minute(text: str, option: str) -> None:
    """A fraction of an hour or a minute (``10:00,5``): refused, with what ISO 8601 means by it."""
    m = _FRACTION_OF_MINUTE.match(text)
    if m is None:
        return
    # ISO 8601: the fraction applies to the last component written (hours or minutes).
    unit = 3600 if m["minute"] is None else 60
    seconds = round(float(f"0.{m['fraction']}") * unit, 3)
    total = int(m["hour"]) * 3600 + int(m["minute"] or 0) * 60 + seconds
    hours, rest = divmod(total, 3600)
    meant = f"{int(hours):02d}:{int(rest // 60):02d}:{rest % 60:06.3f}".rstrip("0").rstrip(".")
    raise UsageError(
        f"{option}: {text!r} has a decimal fraction of an hour or a minute, which is easy to "
        f"misread; write the seconds, e.g. {m['head']}{meant}{m['offset'] or ''} (what ISO 8601 "
        f"means by it)"
    )


def check_instant(t: object, name: str) -> None:
    """A UsageError unless ``t`` is None or a datetime (naive: UTC) between 1970 and :data:`LATEST`.

    Outside that range, showing it in some zones overflows ``datetime`` (year 1 or 9999).
    """
    if t is None:
        return
    if not isinstance(t, dt.datetime):
        raise UsageError(f"{name} must be a datetime, got {type(t).__name__}")
    aware = t if t.tzinfo is not None else t.replace(tzinfo=dt.timezone.utc)
    try:
        inside = EARLIEST <= aware < LATEST
    except OverflowError:  # an offset that puts it outside datetime's own range
        inside = False
    if not inside:
        raise UsageError(
            f"{name} {t.isoformat()} is out of range; give a time between 1970-01-01 and "
            f"{LATEST.year}"
        )


def parse_instant(
    value: str, tz: str = "UTC", now: dt.datetime | None = None, option: str = "--ack"
) -> dt.datetime:
    """A time only people know (``--ack``, ``--declared``…): any form of :func:`parse_time`, not in the future.

    It may come before the window (an incident acknowledged before the window chosen
    for it) or after it (a cause identified the next day), but it has happened.
    """
    now = now or dt.datetime.now(dt.timezone.utc)
    t = parse_time(value, tz, now, option)
    if t > now + FUTURE_SLACK:
        raise UsageError(f"{option} {value!r} is in the future; give the time it happened")
    return t


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
    if t1 > now + FUTURE_SLACK:
        raise UsageError(f"--from {start!r} is in the future; give a start before now")
    if t2 > now + FUTURE_SLACK:
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
