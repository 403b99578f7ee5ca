"""The residents API: find a resident of the station and open their record.

Station staff search their own station's residents; district administrators any (or
one station's). A search answers masked unless the caller's role sees personal data in
full (domain_residents.FULL_DATA_ROLES); every resident shown in full, in a search or
opened alone, is an entry in the access log, as a case read is.
"""

from services.casework.domain import residents as domain_residents
from services.casework.schemas.residents import ResidentList, ResidentOut, ResidentQuery
from services.common.http import (
    ApiError,
    Route,
    json_response,
    require_station,
    route,
    scoped_station,
)

routes: list[Route] = []


@route(routes, "/v1/residents", query=ResidentQuery, response=ResidentList, errors=(403,))
def search_residents(call):
    """Find residents by name, phone or ID number (``q``); paged with ``cursor``."""
    query, principal, store = call.query, call.principal, call.context.store
    station = scoped_station(principal, query.get("station"))
    records, next_cursor = store.residents.search(
        station, query.get("q"), query["limit"], query.get("cursor")
    )
    full = domain_residents.sees_in_full(principal.role)
    for record in records if full else ():
        store.record_access(
            None, principal, "search_resident", record.get("station"), record["_id"]
        )
    shown = [domain_residents.view(record, full) for record in records]
    return json_response(
        ResidentList().dump({"residents": shown, "masked": not full, "next_cursor": next_cursor})
    )


@route(routes, "/v1/residents/<resident_ref>", response=ResidentOut, errors=(403, 404))
def get_resident(call, resident_ref):
    """One resident in full: categories, emergency contacts and cases; the read is recorded."""
    store = call.context.store
    record = store.residents.get(resident_ref)
    if record is None:
        raise ApiError(404, "not_found", f"no resident {resident_ref}")
    require_station(call.principal, record.get("station"))
    store.record_access(None, call.principal, "view_resident", record.get("station"), record["_id"])
    cases = store.cases_of_resident(store.residents.refs_of(record["_id"]))
    return json_response(
        ResidentOut().dump({**domain_residents.view(record, True), "cases": cases})
    )
