"""The lists of cases a station or the district pages through (GET /v1/cases, the
referred cases), read through list keys (services/common/list_keys.py): each case
carries one key per list, and a page is one index range per status asked for (per
priority and status when priorities are asked for)."""

from collections.abc import Callable

from pymongo import UpdateOne
from pymongo.collection import Collection
from pymongo.database import Database

from services.casework.domain import Case
from services.common import list_keys, migrations
from services.common.vocabulary import CASE_STATUSES, PRIORITIES, stations

# The lists of cases (GET /v1/cases): of a station, a worker or the district, by due time
# or newest first, narrowed to statuses; each read through one list key per status
# (services/common/list_keys.py).
LISTS = {
    ("station", "due"): "list_station_due",
    ("worker", "due"): "list_worker_due",
    ("district", "due"): "list_district_due",
    ("station", "opened"): "list_station_opened",
    ("worker", "opened"): "list_worker_opened",
    ("district", "opened"): "list_district_opened",
}
# The same lists narrowed to priorities: one list key per list whose part is
# ``<priority>:<status>``, so a priority filter is index ranges too (a page of the few
# urgent cases among years of others reads the urgent ones, not the others).
PRIORITY_LISTS = {
    (scope, order): f"list_{scope}_priority_{order}"
    for scope in ("station", "worker", "district")
    for order in ("due", "opened")
}
NOBODY = "-"  # the worker scope of a case nobody owns
REFERRED = "list_referred"


def keys_of(case: Case) -> dict[str, str | None]:
    """The case's list keys (LISTS), derived from its fields."""
    scopes = {
        "station": case.station,
        "district": "*",
        "worker": (case.assignee or {}).get("id") or NOBODY,
    }
    values = {"due": case.due_ms, "opened": case.opened_at}
    keys: dict[str, str | None] = {
        field: list_keys.key(scopes[scope], case.status, values[order], case.case_id)
        for (scope, order), field in LISTS.items()
    }
    for (scope, order), field in PRIORITY_LISTS.items():
        keys[field] = list_keys.key(
            scopes[scope], f"{case.priority}:{case.status}", values[order], case.case_id
        )
    # the referred cases, newest referral first, one range a station (referred())
    keys[REFERRED] = (
        list_keys.key("referred", case.station, case.referral["referred_at"], case.case_id)
        if case.referral
        else None
    )
    return keys


FIELDS = (*LISTS.values(), *PRIORITY_LISTS.values(), REFERRED)  # each on an index of its own
# the orders a list of cases may take: name -> (field, descending)
ORDERS = {"due": ("due_sort_ms", False), "opened": ("opened_at", True)}


def page(
    cases: Collection,
    filters: dict,
    order: str,
    limit: int,
    cursor: str | None,
    convert: Callable[[dict], Case],
) -> tuple[list[Case], str | None]:
    """One page of cases, ``(cases, next_cursor)``. ``filters``: station, statuses,
    priorities, request_id, assignee, overdue (True: past their current deadline at
    ``now_ms``; False: not past it). Read through the list keys (LISTS): one index
    range per status (PRIORITY_LISTS: per priority and status, when some priorities
    are asked for), whatever the history holds."""
    field, descending = ORDERS[order]
    overdue, now_ms = filters.get("overdue"), filters.get("now_ms")

    def keep(document):
        return (
            (not filters.get("priorities") or document["priority"] in filters["priorities"])
            and (not filters.get("station") or document["station"] == filters["station"])
            and (
                overdue is None
                or order == "due"
                or (document.get("due_sort_ms") is not None and document["due_sort_ms"] <= now_ms)
                == overdue
            )
        )

    if filters.get("request_id"):  # one request's case: found by its own index
        found = [
            d for d in cases.find({"request_id": filters["request_id"]}, {"outbox": 0}) if keep(d)
        ]
        return [convert(d) for d in found][:limit], None
    if filters.get("assignee"):
        scope, name = "worker", filters["assignee"]
    elif filters.get("station"):
        scope, name = "station", filters["station"]
    else:
        scope, name = "district", "*"
    within: tuple[int | None, int | None] = (None, None)
    if overdue is not None and order == "due":
        at: int = filters["now_ms"]  # overdue is measured at now_ms: given with it
        within = (None, at) if overdue else (at + 1, None)
    statuses = list(filters.get("statuses") or CASE_STATUSES)
    priorities = [p for p in PRIORITIES if p in (filters.get("priorities") or ())]
    if priorities and len(priorities) < len(PRIORITIES):
        list_field = PRIORITY_LISTS[(scope, order)]
        parts = [f"{priority}:{status}" for priority in priorities for status in statuses]
    else:  # every priority: the status ranges hold the same cases in fewer reads
        list_field, parts = LISTS[(scope, order)], statuses
    return list_keys.page(
        cases,
        list_field,
        name,
        parts,
        order,
        field,
        descending,
        limit,
        cursor,
        {"outbox": 0},
        convert,
        keep,
        within,
    )


# The one-time migrations that write the list keys onto cases stored before them
# (services/common/migrations.py): the first wrote LISTS and REFERRED (deployments have
# it marked done), the second PRIORITY_LISTS; both write every key, so a store where the
# first runs now needs no second pass.
MIGRATION = "case_list_keys"
PRIORITY_MIGRATION = "case_priority_list_keys"


def key_cases_once(database: Database, key_every: Callable[[], int]) -> None:
    """Run the list keys' migrations that have not run on ``database`` (``key_every``:
    writes every key of every case, key_every_case)."""
    if migrations.run_once(database, MIGRATION, key_every):
        migrations.mark_done(database, [PRIORITY_MIGRATION])
    else:
        migrations.run_once(database, PRIORITY_MIGRATION, key_every)


def key_every_case(cases: Collection, convert: Callable[[dict], Case]) -> int:
    """The list keys (and ``due_sort_ms``) of cases stored before they existed."""
    changed, operations = 0, []
    for document in cases.find({}, {"outbox": 0}):
        case = convert(document)
        operations.append(
            UpdateOne(
                {"_id": document["_id"]},
                {"$set": {"due_sort_ms": case.due_ms, **keys_of(case)}},
            )
        )
        if len(operations) == 1000:
            changed += cases.bulk_write(operations, ordered=False).modified_count
            operations = []
    if operations:
        changed += cases.bulk_write(operations, ordered=False).modified_count
    return changed


def referred(
    cases: Collection,
    station: str | None,
    agency: str | None,
    limit: int,
    convert: Callable[[dict], Case],
) -> list[Case]:
    """Cases that were ever referred (their current referral), newest referral first."""
    found, _ = list_keys.page(
        cases,
        REFERRED,
        "referred",
        [station] if station else sorted(stations()),
        "referred",
        "referral.referred_at",
        True,
        limit,
        projection={"outbox": 0},
        convert=convert,
        keep=lambda d: not agency or d["referral"].get("agency") == agency,
    )
    return found


# What every time of a district day sorts below (``opened_at`` is ISO 8601 in district
# time: ``YYYY-MM-DDTHH:MM:SS+08:00``, hours at most 23).
DAY_END = "T24"
EXPORT_PAGE = 1000  # cases a read of the export asks for (a page of the list)


def opened_between(
    cases: Collection,
    station: str | None,
    first_day: str,
    last_day: str,
    limit: int,
    convert: Callable[[dict], Case],
) -> list[Case]:
    """Cases opened from ``first_day`` to ``last_day`` (YYYY-MM-DD, district days, both
    included), oldest first, at most ``limit``: pages of the station's (or the
    district's) list by opening time, one index range per status each. Not a range on
    ``opened_at`` itself: the embedded store compares text that starts like a date as
    a date converted to UTC, so the district's first eight hours of a day fell on the
    day before there; the list key's text starts with its scope, and compares as text
    on both stores."""
    scope, name = ("station", station) if station else ("district", "*")
    found: list[Case] = []
    cursor = None
    while len(found) < limit:
        page, cursor = list_keys.page(
            cases,
            LISTS[(scope, "opened")],
            name,
            list(CASE_STATUSES),
            "opened_between",
            "opened_at",
            False,
            min(EXPORT_PAGE, limit - len(found)),
            cursor,
            {"outbox": 0},
            convert,
            within=(first_day, last_day + DAY_END),
        )
        found += page
        if cursor is None:
            return found
    return found
