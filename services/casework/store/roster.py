"""casework's rosters over its MongoDB database, a part of CaseStore: ``workers`` and
``calendar`` (the stations' rosters and holiday rota, written by the seed), ``rosters``
(each station's roster as last published, with its outbox:
``station.roster_published``).
"""

import time
from collections.abc import Iterable

from pymongo.database import Database

from services.casework.domain.roster import Calendar, Worker
from services.common import clock, outbox

ROSTER_CACHE_S = 30.0


class RosterStore:
    """Who works at each station on which days, and the holiday calendar: read at most
    every ROSTER_CACHE_S; and each station's roster as last published."""

    def __init__(self, database: Database) -> None:
        self.workers = database["workers"]
        self.calendar_documents = database["calendar"]
        self.rosters = database["rosters"]
        self._cache: dict = {}

    def ensure_roster_indexes(self) -> None:
        outbox.ensure_indexes(self.rosters)
        self.workers.create_index("station")

    def _cached(self, key, load):
        """The roster and the holiday calendar change at deployment (seed), not per case:
        read at most every ROSTER_CACHE_S instead of twice per case opened."""
        now = time.monotonic()
        found = self._cache.get(key)
        if found is None or now - found[0] > ROSTER_CACHE_S:
            found = self._cache[key] = (now, load())
        return found[1]

    def roster(self, station: str) -> list[Worker]:
        return list(self._cached(("roster", station), lambda: self._load_roster(station)))

    def _load_roster(self, station):
        return [
            Worker(
                **{
                    **{k: v for k, v in document.items() if k in Worker.__dataclass_fields__},
                    "duty_days": tuple(document.get("duty_days", ())),
                }
            )
            for document in self.workers.find({"station": station}, sort=[("_id", 1)])
        ]

    def worker(self, worker_id: str) -> Worker | None:
        document = self.workers.find_one({"_id": worker_id})
        if not document:
            return None
        return next((w for w in self.roster(document["station"]) if w.id == worker_id), None)

    def seed_roster(self, workers: Iterable[dict], calendar: dict | None = None) -> None:
        for worker in workers:
            self.workers.replace_one(
                {"_id": worker["id"]}, {"_id": worker["id"], **worker}, upsert=True
            )
        self._cache.clear()
        if calendar is not None:
            self.calendar_documents.replace_one(
                {"_id": "calendar"},
                {
                    "_id": "calendar",
                    "holidays": list(calendar["holidays"]),
                    "covers_until": calendar.get("covers_until"),
                    "holiday_rota": calendar["holiday_rota"],
                },
                upsert=True,
            )

    def published_roster(self, station: str) -> dict | None:
        """The station's roster as last published (with its outbox), or None."""
        return self.rosters.find_one({"_id": station})

    def publish_roster(
        self, current: dict | None, station: str, staff: list[dict], envelopes: list[dict]
    ) -> dict | None:
        """Record the station's roster with its ``station.roster_published`` event (the
        outbox) if nobody published another since ``current`` was read; returns the
        document, or None on a conflict."""
        fields = {"staff": staff, "updated_ms": clock.to_ms(clock.now())}
        if current is None:
            return outbox.insert_new(self.rosters, {"_id": station, **fields}, envelopes)
        fields.update(outbox.stage(current, envelopes))
        done = self.rosters.update_one(
            {"_id": station, "last_seq": current.get("last_seq", 0)}, {"$set": fields}
        )
        return {**current, **fields} if done.matched_count else None

    def calendar(self) -> Calendar:
        return self._cached("calendar", self._load_calendar)

    def _load_calendar(self):
        document = self.calendar_documents.find_one({"_id": "calendar"})
        if not document:
            return Calendar()
        return Calendar(
            tuple(document.get("holidays", ())),
            {k: tuple(v) for k, v in document.get("holiday_rota", {}).items()},
            document.get("covers_until"),
        )
