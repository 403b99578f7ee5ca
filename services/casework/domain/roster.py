"""The stations' rosters: who is on duty on a given day (pure, no I/O).

A roster is the station's workers with their weekly duty days, and a calendar of
public holidays on which a holiday rota replaces the weekly pattern, so that every
day of the year someone is on duty ("365天不打烊"). Who is on duty is decided by the
district's calendar date, not by the server's.
"""

from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True)
class Worker:
    id: str
    name: str
    phone: str
    station: str
    role: str = "worker"  # worker | station_head
    duty_days: tuple = ()  # ISO weekdays (1 = Monday) this worker is on duty


@dataclass(frozen=True)
class Calendar:
    """Public holidays (ISO dates) and, per station, the workers who take holiday duty.

    On the n-th holiday of the year, the station's rota ids ``n`` and ``n + 1`` (mod
    its length) are on duty: the burden rotates and is never one person's. After
    ``covers_until`` (the last day the calendar is known for) no day is a holiday: the
    weekly duty days apply every day until the calendar is updated.
    """

    holidays: tuple = ()
    holiday_rota: dict = field(default_factory=dict)
    covers_until: str | None = None

    @property
    def ends(self) -> str | None:
        """The last day the calendar knows (ISO), None for an empty calendar."""
        return self.covers_until or max(self.holidays, default=None)

    def is_holiday(self, day):
        return day.isoformat() in self.holidays

    def holiday_index(self, day):
        return sorted(self.holidays).index(day.isoformat())


NO_HOLIDAYS = Calendar()


def _as_date(day):
    return day if isinstance(day, date) else date.fromisoformat(day)


def on_duty_workers(roster, station, day, calendar=NO_HOLIDAYS):
    """The station's workers on duty on ``day``: a date, or an ISO weekday (1-7).

    On a holiday of ``calendar`` the station's holiday rota applies (if it has one).
    """
    staff = [w for w in roster if w.station == station]
    if isinstance(day, int):
        return [w for w in staff if day in w.duty_days]
    day = _as_date(day)
    rota = calendar.holiday_rota.get(station) or ()
    if calendar.is_holiday(day) and rota:
        n = calendar.holiday_index(day)
        chosen = {rota[n % len(rota)], rota[(n + 1) % len(rota)]}
        return [w for w in staff if w.id in chosen]
    return [w for w in staff if day.isoweekday() in w.duty_days]


def station_head(roster, station):
    """The station's head (the escalation target), or None if it has none yet."""
    heads = sorted(
        (w for w in roster if w.station == station and w.role == "station_head"), key=lambda w: w.id
    )
    return heads[0] if heads else None


def pick_assignee(on_duty, open_counts):
    """The on-duty worker with the fewest open cases (ties: lowest id)."""
    if not on_duty:
        return None
    return min(on_duty, key=lambda w: (open_counts.get(w.id, 0), w.id))


def staff(worker):
    """What a case keeps of its owner (and events carry): id, name, phone."""
    return {"id": worker.id, "name": worker.name, "phone": worker.phone}


def published_staff(roster: list) -> list:
    """What a station's roster tells other services: each person's id, role and weekly
    duty days (no name, no phone), in id order: equal rosters compare equal."""
    return [
        {"id": w.id, "role": w.role, "duty_days": sorted(w.duty_days)}
        for w in sorted(roster, key=lambda w: w.id)
    ]


class CalendarFileError(ValueError):
    """The holiday calendar file is not in its documented format."""


def calendar_years(data: dict) -> tuple:
    """``(holidays, covers_until)`` from the holiday calendar file's content (format:
    services/casework/data/holidays.json); raises CalendarFileError naming the fault."""
    years = data.get("years") if isinstance(data, dict) else None
    if not isinstance(years, dict) or not years:
        raise CalendarFileError("years: an object of years, each with its holidays")
    holidays = []
    for year, entry in sorted(years.items()):
        days = entry.get("holidays") if isinstance(entry, dict) else None
        if not isinstance(days, list):
            raise CalendarFileError(f"years.{year}.holidays: a list of ISO dates")
        for day in days:
            try:
                parsed = date.fromisoformat(day)
            except (TypeError, ValueError):
                raise CalendarFileError(
                    f"years.{year}.holidays: {day!r} is not an ISO date"
                ) from None
            if str(parsed.year) != year:
                raise CalendarFileError(f"years.{year}.holidays: {day} is in another year")
            holidays.append(parsed.isoformat())
    covers_until = data.get("covers_until") or max(holidays, default=None)
    try:
        date.fromisoformat(str(covers_until) if covers_until is not None else "")
    except (TypeError, ValueError):
        raise CalendarFileError(f"covers_until: {covers_until!r} is not an ISO date") from None
    if holidays and str(covers_until) < max(holidays):
        raise CalendarFileError(
            f"covers_until: {covers_until} is before the last holiday {max(holidays)}"
        )
    return tuple(sorted(set(holidays))), covers_until


def calendar_warning(calendar: Calendar, today: date | str, warn_days: int) -> str | None:
    """What an operator must be told about the holiday calendar on ``today``: that it
    runs out within ``warn_days`` days, or has run out; None when all is well."""
    ends = calendar.ends
    if ends is None:
        return (
            "no holiday calendar is loaded: every day follows the weekly duty days; "
            "load services/casework/data/holidays.json (python -m services.casework.seed)"
        )
    left = (date.fromisoformat(ends) - _as_date(today)).days
    if left < 0:
        return (
            f"the holiday calendar ended on {ends}: every day follows the weekly duty "
            f"days (no holiday rota) until the State Council's arrangement is added to "
            f"services/casework/data/holidays.json and loaded"
        )
    if left <= warn_days:
        return (
            f"the holiday calendar ends on {ends} (in {left} days): add the State "
            f"Council's arrangement of the next year to services/casework/data/"
            f"holidays.json and load it (python -m services.casework.seed)"
        )
    return None
