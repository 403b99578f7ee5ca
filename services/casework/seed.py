"""Load the development roster into casework's database: ``python -m services.casework.seed``."""
import json
import sys
from pathlib import Path

from services.common import config, mongo
from services.casework.store import CaseStore

ROSTER = Path(__file__).with_name("seed") / "roster.json"


def roster():
    return json.loads(ROSTER.read_text(encoding="utf-8"))["workers"]


def main():
    store = CaseStore(mongo.database(config.settings(), "casework"))
    store.ensure_indexes()
    workers = roster()
    store.seed_roster(workers)
    print(f"seeded {len(workers)} social workers", file=sys.stderr)


if __name__ == "__main__":
    main()
