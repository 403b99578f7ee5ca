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
    role: str = "worker"          # worker | station_head
    duty_days: tuple = ()         # ISO weekdays (1 = Monday) this worker is on duty


@dataclass(frozen=True)
class Calendar:
    """Public holidays (ISO dates) and, per station, the workers who take holiday duty.

    On the n-th holiday of the year, the station's rota ids ``n`` and ``n + 1`` (mod
    its length) are on duty: the burden rotates and is never one person's.
    """
    holidays: tuple = ()
    holiday_rota: dict = field(default_factory=dict)

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
    heads = sorted((w for w in roster if w.station == station and w.role == "station_head"),
                   key=lambda w: w.id)
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
    return [{"id": w.id, "role": w.role, "duty_days": sorted(w.duty_days)}
            for w in sorted(roster, key=lambda w: w.id)]
