"""The figures of the district's table that come from configuration, not from events."""
import json
from functools import lru_cache
from pathlib import Path

PATH = Path(__file__).with_name("data") / "staffing.json"


@lru_cache(maxsize=1)
def load():
    """``{"social_workers": {station: n}, "project_funds_fen": n}``."""
    data = json.loads(PATH.read_text(encoding="utf-8"))
    return {"social_workers": dict(data.get("social_workers", {})),
            "project_funds_fen": data.get("project_funds_fen")}
