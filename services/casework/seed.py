"""Load the development rosters into casework's database: ``python -m services.casework.seed``.

``seed/roster.json`` holds every station's workers with their weekly duty days and each
station's holiday rota; ``data/holidays.json`` the public holidays (the calendar an
operator keeps: its format is in the file).
"""

import json
import logging
import sys
from pathlib import Path

from services.casework.domain.roster import calendar_years
from services.casework.rosters import load_roster, warn_if_calendar_ends
from services.casework.store import CaseStore
from services.common import clock, config, mongo

ROSTER = Path(__file__).with_name("seed") / "roster.json"
HOLIDAYS = Path(__file__).with_name("data") / "holidays.json"


def _load():
    return json.loads(ROSTER.read_text(encoding="utf-8"))


def roster():
    return _load()["workers"]


def holidays_file(settings) -> Path:
    """The holiday calendar an operator keeps (``SHEGONG_HOLIDAYS_FILE`` to use another)."""
    return Path(settings.holidays_file or HOLIDAYS)


def calendar(path: Path = HOLIDAYS):
    """The holiday calendar (from ``path``, the operator's file) with each station's
    holiday rota."""
    holidays, covers_until = calendar_years(json.loads(path.read_text(encoding="utf-8")))
    return {
        "holidays": list(holidays),
        "covers_until": covers_until,
        "holiday_rota": _load()["holiday_rota"],
    }


def main():
    settings = config.settings()
    store = CaseStore(mongo.database(settings, "casework"))
    store.ensure_indexes()
    workers = roster()
    # the worker's outbox relay publishes station.roster_published for each change
    published = load_roster(store, workers, calendar(holidays_file(settings)))
    print(
        f"seeded {len(workers)} social workers; {published} roster(s) to publish", file=sys.stderr
    )
    logging.basicConfig(level=logging.INFO)
    warn_if_calendar_ends(store, clock.now(), settings.holiday_warning_days)


if __name__ == "__main__":
    main()
