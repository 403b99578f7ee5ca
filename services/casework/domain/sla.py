"""Service levels per priority (pure, no I/O).

A level is "accepted within A, resolved within R", configured as text, e.g.
``urgent=30m/24h,normal=4h/7d,low=1d/30d`` (units s, m, h, d). The clocks start when
the case is opened (or reopened): a request recorded late with an old ``received_at``
is not born breached. A case keeps its due times as epoch milliseconds, and the
earliest one not yet breached as ``sla_due_ms``, the single indexed field the timer
queries.
"""

import re

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_PART = re.compile(r"^\s*(\w+)\s*=\s*(\d+)([smhd])\s*/\s*(\d+)([smhd])\s*$")

# statuses in which each clock runs: acceptance until someone accepts, resolution
# until the case is resolved (a referral does not stop it: the resident still waits)
ACCEPTANCE_RUNS = ("received", "assigned")
RESOLUTION_RUNS = ("received", "assigned", "accepted", "in_progress", "referred")


def parse_service_levels(text):
    """``{priority: (accept_within_s, resolve_within_s)}``; ValueError on bad text."""
    levels = {}
    for part in filter(str.strip, text.split(",")):
        match = _PART.match(part)
        if not match:
            raise ValueError(f"service level {part!r} is not like urgent=30m/24h")
        priority, a, a_unit, r, r_unit = match.groups()
        levels[priority] = (int(a) * UNITS[a_unit], int(r) * UNITS[r_unit])
    missing = {"urgent", "normal", "low"} - set(levels)
    if missing:
        raise ValueError(f"service levels missing for {', '.join(sorted(missing))}")
    return levels


def due_times(levels, priority, start_ms):
    """``(accept_due_ms, resolve_due_ms)`` of a case of ``priority`` started at ``start_ms``."""
    accept_s, resolve_s = levels[priority]
    return start_ms + accept_s * 1000, start_ms + resolve_s * 1000


def pending(status, accept_due_ms, resolve_due_ms, breached):
    """The ``(kind, due_ms)`` clocks still running and not yet breached, earliest first."""
    clocks = []
    if status in ACCEPTANCE_RUNS and accept_due_ms is not None and "acceptance" not in breached:
        clocks.append(("acceptance", accept_due_ms))
    if status in RESOLUTION_RUNS and resolve_due_ms is not None and "resolution" not in breached:
        clocks.append(("resolution", resolve_due_ms))
    return sorted(clocks, key=lambda item: item[1])


def next_due_ms(status, accept_due_ms, resolve_due_ms, breached):
    """When the timer should next look at this case; None when no clock runs."""
    clocks = pending(status, accept_due_ms, resolve_due_ms, breached)
    return clocks[0][1] if clocks else None


def breaches(status, accept_due_ms, resolve_due_ms, breached, now_ms):
    """The clocks that have run out at ``now_ms`` (each reported once)."""
    return [
        (kind, due)
        for kind, due in pending(status, accept_due_ms, resolve_due_ms, breached)
        if due <= now_ms
    ]


NO_DUE_MS = 2**53 - 1  # sorts after every real due time (cases with no clock running)


def current_due_ms(status: str, accept_due_ms: int | None, resolve_due_ms: int | None) -> int:
    """The deadline the case is working against now: acceptance while it waits to be
    accepted, else resolution while it is open; NO_DUE_MS when no clock runs. A case
    is overdue when this is past, whether or not the timer has noticed yet."""
    if status in ACCEPTANCE_RUNS and accept_due_ms is not None:
        return accept_due_ms
    if status in RESOLUTION_RUNS and resolve_due_ms is not None:
        return resolve_due_ms
    return NO_DUE_MS
