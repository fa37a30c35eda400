import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pmrecon.errors import UsageError
from pmrecon.model import Window
from pmrecon.timeparse import parse_time, parse_window

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "text,tz,expected",
    [
        ("2026-03-01T10:00:00Z", "UTC", dt.datetime(2026, 3, 1, 10, tzinfo=UTC)),
        ("2026-03-01T11:00:00+01:00", "UTC", dt.datetime(2026, 3, 1, 10, tzinfo=UTC)),
        ("2026-03-01 11:00", "Europe/Paris", dt.datetime(2026, 3, 1, 10, tzinfo=UTC)),
        ("2026-07-01 11:00:30", "Europe/Paris", dt.datetime(2026, 7, 1, 9, 0, 30, tzinfo=UTC)),
        ("1772359200", "UTC", dt.datetime(2026, 3, 1, 10, tzinfo=UTC)),
        ("now", "UTC", NOW),
        ("now-90m", "UTC", NOW - dt.timedelta(minutes=90)),
        ("now-2h", "Europe/Paris", NOW - dt.timedelta(hours=2)),
        ("now-1d", "UTC", NOW - dt.timedelta(days=1)),
    ],
)
def test_accepted_forms(text, tz, expected):
    assert parse_time(text, tz, NOW) == expected


def test_ambiguous_fall_back_hour_takes_first_and_skipped_hour_is_refused():
    # 2026-10-25 02:30 happens twice in Paris; 2026-03-29 02:30 never happens.
    assert parse_time("2026-10-25 02:30", "Europe/Paris", NOW) == dt.datetime(
        2026, 10, 25, 0, 30, tzinfo=UTC
    )
    with pytest.raises(UsageError, match="does not exist"):
        parse_time("2026-03-29 02:30", "Europe/Paris", NOW)


@pytest.mark.parametrize(
    "bad", ["yesterday", "2026-13-01T00:00:00Z", "now-5x", "12:00", "", "2026-03-01T25:00Z", "now+"]
)
def test_refused_forms_name_the_value_and_the_forms(bad):
    with pytest.raises(UsageError) as exc:
        parse_time(bad, "UTC", NOW)
    msg = exc.value.format_message()
    assert repr(bad) in msg and "RFC 3339" in msg and "\n" not in msg


def test_window_rules():
    with pytest.raises(UsageError, match="before"):
        parse_window("now-1h", "now-2h", now=NOW)
    with pytest.raises(UsageError, match="future"):
        parse_window("now-1h", "now+2h", now=NOW)
    with pytest.raises(UsageError, match="longer than the maximum of 7 days"):
        parse_window("now-8d", "now", now=NOW)
    window = parse_window("now-2h", "now", now=NOW)
    assert window == Window(NOW - dt.timedelta(hours=2), NOW)
    local = parse_window("2026-03-01 09:30", "2026-03-01 12:00", "Europe/Paris", now=NOW)
    assert local.start == dt.datetime(2026, 3, 1, 8, 30, tzinfo=dt.timezone.utc)
    assert local.seconds == 2.5 * 3600


@given(st.text(max_size=40))
def test_any_text_parses_or_fails_cleanly(text):
    try:
        t = parse_time(text, "Europe/Paris", NOW)
    except UsageError as exc:
        assert "\n" not in exc.format_message()
    else:
        assert t.tzinfo is not None
