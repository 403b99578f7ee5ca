"""Time as the services store and show it.

MongoDB-protocol servers disagree on how they keep datetimes (the development server
drops the offset), so the services never store datetime objects: an instant is kept
as epoch milliseconds (for ranges and arithmetic) next to an ISO 8601 string with the
district's offset (for people), and a calendar day as the district's local date.
"""

from datetime import datetime, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

DISTRICT_TZ = "Asia/Shanghai"


@lru_cache(maxsize=None)
def _zone(name):
    return ZoneInfo(name)


def now():
    return datetime.now(timezone.utc)


def parse_iso(text):
    """Parse an ISO 8601 instant; a value without an offset is refused."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("time must carry a UTC offset, e.g. 2023-05-29T08:00:00+08:00")
    return value


def to_ms(moment):
    return int(moment.timestamp() * 1000)


def now_ms():
    """Now in epoch milliseconds (the store's times): the one way to take it."""
    return to_ms(now())


def from_ms(ms):
    """The instant of epoch milliseconds (the store's times), in UTC: ``to_ms`` undone."""
    return datetime.fromtimestamp(ms / 1000, timezone.utc)


def iso(moment, tz=DISTRICT_TZ):
    """ISO 8601 with the district's offset, to the second: what people and APIs see."""
    return moment.astimezone(_zone(tz)).isoformat(timespec="seconds")


def local_day(moment, tz=DISTRICT_TZ):
    """The district's calendar date of an instant, as YYYY-MM-DD."""
    return moment.astimezone(_zone(tz)).date().isoformat()


def local_date(moment, tz=DISTRICT_TZ):
    """The district's calendar date of an instant, as a date (``local_day`` unformatted)."""
    return moment.astimezone(_zone(tz)).date()


def weekday(moment, tz=DISTRICT_TZ):
    """ISO weekday (1 = Monday) of an instant in the district."""
    return moment.astimezone(_zone(tz)).isoweekday()
