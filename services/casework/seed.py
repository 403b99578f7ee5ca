"""Load the development rosters into casework's database: ``python -m services.casework.seed``.

``seed/roster.json`` holds every station's workers with their weekly duty days, the
year's public holidays and each station's holiday rota.
"""
import json
import sys
from pathlib import Path

from services.common import config, mongo
from services.casework.rosters import load_roster
from services.casework.store import CaseStore

ROSTER = Path(__file__).with_name("seed") / "roster.json"


def _load():
    return json.loads(ROSTER.read_text(encoding="utf-8"))


def roster():
    return _load()["workers"]


def calendar():
    data = _load()
    return {"holidays": data["holidays"], "holiday_rota": data["holiday_rota"]}


def main():
    store = CaseStore(mongo.database(config.settings(), "casework"))
    store.ensure_indexes()
    workers = roster()
    # the worker's outbox relay publishes station.roster_published for each change
    published = load_roster(store, workers, calendar())
    print(f"seeded {len(workers)} social workers; {published} roster(s) to publish",
          file=sys.stderr)


if __name__ == "__main__":
    main()
