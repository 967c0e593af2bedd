"""Calendar arithmetic in program-local wall time.

All times inside the runtime are naive `datetime`s in the program's time zone
(the facade converts aware timestamps on the way in). Months and years are
calendar units: adding one month to 31 January gives 28/29 February.
"""

from __future__ import annotations

import calendar
import datetime as _dt
import functools
import os

PERIODS = ("day", "week", "month", "quarter", "year")

# The end of time (docs/semantics.md, "The end of time"). A moment past the last one Python's
# calendar holds (9999-12-31 23:59:59.999999) is NEVER: a deadline there is never reached, a date
# range ending on 9999-12-31 has no end. A moment before year 1 is ALWAYS (a window reaching back
# past it starts at the beginning of time). Every duration added here saturates at these two: the
# one place the runtime's calendar arithmetic meets the calendar's end.
NEVER = _dt.datetime.max
ALWAYS = _dt.datetime.min


def add_duration(t: _dt.datetime, amount: int, unit: str) -> _dt.datetime:
    """t plus a duration in calendar units; NEVER past the calendar's end, ALWAYS before its start."""
    if t == NEVER and amount >= 0:
        return NEVER
    if unit in ("day", "week"):
        days = amount if unit == "day" else amount * 7
        try:
            return t + _dt.timedelta(days=days)
        except OverflowError:  # past 9999-12-31 or before year 1 (timedelta itself holds 999,999,999 days)
            return NEVER if days > 0 else ALWAYS
    months = amount if unit == "month" else amount * 12
    m0 = t.month - 1 + months
    year, month = t.year + m0 // 12, m0 % 12 + 1
    if year > _dt.MAXYEAR:
        return NEVER
    if year < _dt.MINYEAR:
        return ALWAYS
    day = min(t.day, calendar.monthrange(year, month)[1])
    return t.replace(year=year, month=month, day=day)


def duration_words(amount: int, unit: str) -> str:
    """`30 days`, `1 month`: a compiled duration as the messages of the runtime write it."""
    return f"{amount} {unit}" if amount == 1 else f"{amount} {unit}s"


def day_after(d: _dt.date) -> _dt.datetime:
    """The first moment after the date d, as the end of a range `to d`: NEVER after 9999-12-31 (no end)."""
    return add_duration(_dt.datetime(d.year, d.month, d.day), 1, "day")


def sub_duration(t: _dt.datetime, amount: int, unit: str) -> _dt.datetime:
    return add_duration(t, -amount, unit)


def period_start(t: _dt.datetime, period: str) -> _dt.datetime:
    """Start of the calendar period containing t (weeks start on Monday)."""
    d = t.date()
    if period == "day":
        s = d
    elif period == "week":
        s = d - _dt.timedelta(days=d.weekday())
    elif period == "month":
        s = d.replace(day=1)
    elif period == "quarter":
        s = d.replace(month=(d.month - 1) // 3 * 3 + 1, day=1)
    else:
        s = d.replace(month=1, day=1)
    return _dt.datetime(s.year, s.month, s.day)


def next_period_start(t: _dt.datetime, period: str) -> _dt.datetime:
    """Start of the calendar period after the one containing t."""
    s = period_start(t, period)
    if period == "day":
        return add_duration(s, 1, "day")
    if period == "week":
        return add_duration(s, 1, "week")
    return add_duration(s, {"month": 1, "quarter": 3, "year": 12}[period], "month")


def period_key(t: _dt.datetime, period: str | None) -> str:
    """A stable name for the calendar period containing t ("" for no period)."""
    if period is None:
        return ""
    return period_start(t, period).date().isoformat()


def parse_time(text: str) -> _dt.datetime:
    return _dt.datetime.fromisoformat(text)


def parse_date(text: str) -> _dt.date:
    return _dt.date.fromisoformat(text)


@functools.lru_cache(maxsize=1)
def iana_zones() -> frozenset[str]:
    """The IANA time zone names, as the tzdata package (a dependency) lists them. Not the machine's tz
    directory: it also holds `localtime` (whatever zone the host is set to), `posixrules`, `posix/...` and
    `right/...`, which would make a program's results depend on the machine running it."""
    try:
        import tzdata

        with open(os.path.join(os.path.dirname(tzdata.__file__), "zones"), encoding="utf-8") as f:
            names = frozenset(zone for zone in (line.strip() for line in f) if zone)
        if names:
            return names
    except Exception:  # pragma: no cover - no tzdata package: the system's list, without its host-only names
        pass
    import zoneinfo

    try:
        names = zoneinfo.available_timezones()
    except Exception:  # pragma: no cover
        names = set()
    return frozenset(n for n in names if not machine_only_zone_name(n))


def machine_only_zone_name(name: str) -> bool:
    """A name the machine's tz directory may resolve that is not an IANA zone of its own."""
    return name in ("localtime", "posixrules") or name.split("/", 1)[0] in ("posix", "right")


def is_iana_zone(name: str) -> bool:
    return type(name) is str and name != "posixrules" and name in iana_zones()
