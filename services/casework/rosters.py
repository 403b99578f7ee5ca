"""Loading the stations' rosters, and telling the other services what they are.

A roster is casework's own data (who is on duty, who heads the station); reporting
counts each station's social workers from it. So loading rosters publishes, for each
station whose roster differs from the one last published, ``station.roster_published``
with the whole roster (ids, roles, duty days; no names or numbers), through the outbox
of the station's ``rosters`` document: the casework worker's relay publishes what the
loader does not.
"""

import logging

from services.casework.domain.roster import calendar_warning, published_staff
from services.common import clock, outbox
from services.common.contracts import STATION_ROSTER_PUBLISHED
from services.common.envelope import new_event

log = logging.getLogger(__name__)


def load_roster(store, workers: list, calendar: dict | None = None, relay=None) -> int:
    """Store the workers (and the holiday calendar), then publish each changed station's
    roster; with ``relay``, at once. Returns the number of rosters published."""
    store.seed_roster(workers, calendar)
    published = 0
    for station in sorted({worker["station"] for worker in workers}):
        document = publish_roster(store, station)
        if document is not None:
            published += 1
            if relay is not None:
                relay.publish_now("rosters", document)
    return published


def publish_roster(store, station: str):
    """Stage ``station.roster_published`` if the station's roster changed since it was
    last published; returns the written document, or None when nothing changed."""
    staff = published_staff(store.roster(station))
    for _ in range(5):
        current = store.published_roster(station)
        if current is not None and current.get("staff") == staff:
            return None
        now = clock.now()
        event = new_event(
            STATION_ROSTER_PUBLISHED,
            {"station": station, "staff": staff, "published_at": clock.iso(now)},
            subject=station,
            correlation_id=f"roster-{station}",
            sequence=outbox.next_sequence(current or {}),
            time=now,
        )
        document = store.publish_roster(current, station, staff, [event])
        if document is not None:
            log.info("roster of %s published: %d on it", station, len(staff))
            return document
    raise RuntimeError(f"the roster of {station} kept changing under the writer")


def warn_if_calendar_ends(store, now, warn_days: int) -> str | None:
    """Log a warning when the holiday calendar runs out within ``warn_days`` days (or has
    run out); returns the warning, None when all is well."""
    warning = calendar_warning(store.calendar(), clock.local_day(now), warn_days)
    if warning:
        log.warning("%s", warning)
    return warning
