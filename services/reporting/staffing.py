"""The figures of the district's table that come from configuration, not from events."""

import json
from functools import lru_cache
from pathlib import Path

PATH = Path(__file__).with_name("data") / "staffing.json"


@lru_cache(maxsize=1)
def load():
    """``{"project_funds_fen": n}``. The social workers are counted from the stations'
    rosters (``station.roster_published``), not configured here."""
    data = json.loads(PATH.read_text(encoding="utf-8"))
    return {"project_funds_fen": data.get("project_funds_fen")}
