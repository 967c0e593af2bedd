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


def add_duration(t: _dt.datetime, amount: int, unit: str) -> _dt.datetime:
    if unit == "day":
        return t + _dt.timedelta(days=amount)
    if unit == "week":
        return t + _dt.timedelta(weeks=amount)
    months = amount if unit == "month" else amount * 12
    m0 = t.month - 1 + months
    year, month = t.year + m0 // 12, m0 % 12 + 1
    day = min(t.day, calendar.monthrange(year, month)[1])
    return t.replace(year=year, month=month, day=day)


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
        return s + _dt.timedelta(days=1)
    if period == "week":
        return s + _dt.timedelta(weeks=1)
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
