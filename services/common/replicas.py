"""SHEGONG_REPLICAS, how many instances of each process ``make run`` starts: its syntax
and its checks (``parse_replicas``).

Settings keep the text as given (``Settings.replicas``); only the local launcher
(deploy/local.py) parses it, so the parser is not part of ``config``.
"""

from services.common.config import SERVICES

# what SHEGONG_REPLICAS may name: each service's worker and API
PROCESS_KINDS = ("worker", "api")
MAX_REPLICAS = 16


def parse_replicas(text: str) -> dict[str, int]:
    """``casework-worker=2,intake-api=2`` -> {"casework-worker": 2, "intake-api": 2};
    ValueError with what is wrong otherwise."""
    known = [f"{s}-{kind}" for s in SERVICES for kind in PROCESS_KINDS]
    counts: dict[str, int] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, equals, number = (x.strip() for x in part.partition("="))
        if not equals:
            raise ValueError(f"SHEGONG_REPLICAS: {part!r} is not <process>=<count>")
        if name not in known:
            raise ValueError(
                f"SHEGONG_REPLICAS: unknown process {name!r} (one of {', '.join(known)})"
            )
        if name in counts:
            raise ValueError(f"SHEGONG_REPLICAS: {name} is given twice")
        if not number.isdigit() or not 1 <= int(number) <= MAX_REPLICAS:
            raise ValueError(
                f"SHEGONG_REPLICAS: {name}={number!r}: the count must be a whole "
                f"number from 1 to {MAX_REPLICAS}"
            )
        counts[name] = int(number)
    return counts
