"""Rosters (who is on duty on a day) and the case access log (district admins only)."""

from datetime import date

from services.casework.domain.roster import on_duty_workers, station_head
from services.casework.schemas.programs import (
    AccessList,
    AccessQuery,
    AccessVerification,
    RosterOut,
    RosterQuery,
)
from services.common import clock
from services.common.http import ApiError, Route, json_response, require_station, route
from services.common.vocabulary import stations

routes: list[Route] = []


def _require_district_admin(call):
    if call.principal.role != "district_admin":
        raise ApiError(403, "forbidden", "only district administrators read the access log")


@route(
    routes,
    "/v1/stations/<station>/roster",
    query=RosterQuery,
    response=RosterOut,
    errors=(403, 404),
)
def station_roster(call, station):
    """Who is on duty at the station on a day (default today), holidays included."""
    if station not in stations():
        raise ApiError(404, "not_found", f"no station {station}")
    require_station(call.principal, station)
    store = call.context.store
    day = call.query.get("day") or date.fromisoformat(clock.local_day(clock.now()))
    roster, calendar = store.roster(station), store.calendar()
    return json_response(
        RosterOut().dump(
            {
                "station": station,
                "day": day.isoformat(),
                "holiday": calendar.is_holiday(day),
                "on_duty": on_duty_workers(roster, station, day, calendar),
                "station_head": station_head(roster, station),
            }
        )
    )


@route(routes, "/v1/access-log", query=AccessQuery, response=AccessList, errors=(403,))
def read_access_log(call):
    """Entries of the case access log in order (optionally of one case)."""
    _require_district_admin(call)
    query = call.query
    entries, next_cursor = call.context.store.access_log.page(
        query.get("case_id"),
        query["after_seq"],
        query["limit"],
        query.get("cursor"),
        query.get("resident_ref"),
    )
    return json_response(AccessList().dump({"entries": entries, "next_cursor": next_cursor}))


@route(routes, "/v1/access-log/verify", response=AccessVerification, errors=(403,))
def verify_access_log(call):
    """Recompute the whole hash chain: the first entry that was changed, removed or
    moved is named."""
    _require_district_admin(call)
    return json_response(AccessVerification().dump(call.context.store.access_log.verify()))
