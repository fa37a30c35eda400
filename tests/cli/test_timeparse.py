import datetime as dt
import zoneinfo

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from pmrecon.errors import UsageError
from pmrecon.model import Window
from pmrecon.timeparse import parse_instant, parse_time, parse_window

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


# --------------------------------------------------------------------------- issue 14: ranges, fractions, the future

ZONES = [
    "UTC",
    "Europe/Paris",
    "America/New_York",
    "Asia/Tokyo",
    "Pacific/Kiritimati",
    "Pacific/Pago_Pago",
]


@pytest.mark.parametrize("tz", ZONES)
@pytest.mark.parametrize(
    "text",
    [
        "0001-01-01T00:00:00Z",
        "0001-01-01 00:00",
        "0001-01-01T00:00:00+14:00",
        "9999-12-31T23:59:59Z",
        "9999-12-31 23:59",
        "9999-12-31T23:59:59-12:00",
        "1969-12-31T23:59:59Z",
        "now-100000000d",
        "now-2000000w",
    ],
)
def test_extreme_dates_are_a_usage_error_in_every_zone(text, tz):
    with pytest.raises(UsageError) as exc:
        parse_time(text, tz, NOW, "--ack")
    msg = exc.value.format_message()
    assert msg.startswith("--ack: ") and "out of range" in msg and repr(text) in msg


@settings(max_examples=300, deadline=None)
@given(
    st.datetimes(min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30)),
    st.sampled_from(["Z", "+14:00", "-12:00", ""]),
    st.sampled_from(ZONES),
)
@example(dt.datetime(1970, 1, 1), "Z", "UTC")  # the first accepted instant, shown in 1969 west
@example(dt.datetime(1970, 1, 1, 13), "+14:00", "UTC")
@example(dt.datetime(8999, 12, 31, 23, 59, 59), "", "Pacific/Kiritimati")
@example(dt.datetime(8999, 12, 31, 12), "-12:00", "UTC")
def test_any_accepted_time_can_be_shown_in_every_zone(when, offset, tz):
    """What parse_time accepts never overflows later, when a report shows it in some zone."""
    text = when.strftime("%Y-%m-%dT%H:%M:%S") + offset
    try:
        t = parse_time(text, tz, NOW, "--ack")
    except UsageError:
        return
    assert dt.datetime(1970, 1, 1, tzinfo=UTC) <= t < dt.datetime(9000, 1, 1, tzinfo=UTC)
    for zone in ZONES:  # a day either side at most: far from datetime's limits (years 1, 9999)
        shown = t.astimezone(zoneinfo.ZoneInfo(zone))
        assert 1969 <= shown.year <= 9000 and shown.isoformat()


@pytest.mark.parametrize(
    "text,expected",
    [
        ("2026-03-01T10:00:00,5Z", dt.datetime(2026, 3, 1, 10, 0, 0, 500000, tzinfo=UTC)),
        ("2026-03-01T10:00:00.5Z", dt.datetime(2026, 3, 1, 10, 0, 0, 500000, tzinfo=UTC)),
        ("2026-03-01 10:00:30,25", dt.datetime(2026, 3, 1, 10, 0, 30, 250000, tzinfo=UTC)),
        ("2026-03-01T10:00:30.123456789Z", dt.datetime(2026, 3, 1, 10, 0, 30, 123456, tzinfo=UTC)),
        ("2026-03-01", dt.datetime(2026, 3, 1, tzinfo=UTC)),
        ("2026-03-01 9:30", dt.datetime(2026, 3, 1, 9, 30, tzinfo=UTC)),
        ("2026-03-01T11:00:00+0100", dt.datetime(2026, 3, 1, 10, tzinfo=UTC)),
    ],
)
def test_a_fraction_on_seconds_is_a_fraction_of_a_second(text, expected):
    assert parse_time(text, "UTC", NOW) == expected


@pytest.mark.parametrize(
    "text,iso_meaning",
    [
        ("2026-03-01 10:00,5", "2026-03-01 10:00:30"),  # the review's case: not 10:00:00.5
        ("2026-03-01T10:00.5Z", "2026-03-01T10:00:30Z"),
        ("2026-03-01T10:00,25+01:00", "2026-03-01T10:00:15+01:00"),
        ("2026-03-01T10,5", "2026-03-01T10:30:00"),
        ("2026-03-01 10.25", "2026-03-01 10:15:00"),
        ("2026-03-01T10:59,999Z", "2026-03-01T10:59:59.94Z"),
    ],
)
def test_a_fraction_of_a_minute_or_an_hour_is_refused_with_its_iso_meaning(text, iso_meaning):
    with pytest.raises(UsageError) as exc:
        parse_time(text, "UTC", NOW, "--ack")
    msg = exc.value.format_message()
    assert msg.startswith("--ack: ") and "decimal fraction of an hour or a minute" in msg
    assert f"e.g. {iso_meaning} (what ISO 8601 means by it)" in msg, msg


def test_human_instants_may_be_outside_the_window_but_not_in_the_future():
    assert parse_instant("now-30d", "UTC", NOW) == NOW - dt.timedelta(days=30)
    assert parse_instant("now+30s", "UTC", NOW) == NOW + dt.timedelta(seconds=30)  # clock slack
    for text in ("now+2h", "2026-11-29T00:00:00Z", "2099-01-01 10:00"):
        with pytest.raises(UsageError, match="is in the future; give the time it happened"):
            parse_instant(text, "Europe/Paris", NOW, "--declared")


@pytest.mark.parametrize(
    "when",
    [
        dt.datetime(1, 1, 1, tzinfo=UTC),
        dt.datetime(9999, 12, 31, 23, 59),
        dt.datetime(1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=5))),
        dt.datetime(1969, 7, 20, tzinfo=UTC),
    ],
)
def test_library_human_instants_out_of_range_are_a_usage_error(when):
    from pmrecon import HumanInstants

    with pytest.raises(UsageError, match="acknowledged .* is out of range"):
        HumanInstants(acknowledged=when)
    with pytest.raises(UsageError, match="cause_identified must be a datetime"):
        HumanInstants(cause_identified="2026-03-01")  # type: ignore[arg-type]
    assert HumanInstants(declared=dt.datetime(2026, 3, 1, tzinfo=UTC)).declared is not None
