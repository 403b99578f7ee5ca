"""The station programs API: a station's own work, recorded once and published.

Volunteer teams and their members, social organisations cultivated, donations (money
in integer fen, or goods), aid to households in hardship, and activities (policy
publicity, needs surveys, group work, economic status verification, training). Each
POST is station-scoped and idempotent with ``Idempotency-Key``.
"""

from marshmallow import ValidationError

from services.casework.domain import corrections as domain_corrections
from services.casework.handlers import corrections as handlers_corrections
from services.casework.handlers import programs as handlers_programs
from services.casework.schemas.programs import (
    ActivityCommand,
    AidCommand,
    CorrectionCommand,
    DonationCommand,
    ProgramHistoryOut,
    ProgramList,
    ProgramOut,
    ProgramQuery,
    SocialOrganisationCommand,
    VolunteerCommand,
    VolunteerTeamCommand,
)
from services.common.http import ApiError, Route, json_response, require_station, route
from services.common.vocabulary import stations

routes: list[Route] = []
ERRORS = (400, 403, 404, 409)


def _station(call, station):
    if station not in stations():
        raise ApiError(404, "not_found", f"no station {station}")
    require_station(call.principal, station)
    return station


def _idempotency_key(call):
    key = call.request.headers.get("Idempotency-Key")
    if key is not None and not 1 <= len(key) <= 200:
        raise ApiError(400, "invalid_idempotency_key", "Idempotency-Key must be 1-200 characters")
    return key


def _record(call, station, kind, team_id=None):
    station = _station(call, station)
    key = _idempotency_key(call)
    context = call.context
    try:
        document, replayed = handlers_programs.record_program(
            context.store,
            context.relay,
            call.principal,
            station,
            kind,
            call.body,
            key,
            context.settings.pseudonym_key,
            team_id,
        )
    except handlers_programs.ProgramConflict as exc:
        raise ApiError(409, "idempotency_conflict", str(exc)) from None
    except handlers_programs.ProgramRefused as exc:
        raise ApiError(404, "not_found", exc.message, {exc.field: [exc.message]}) from None
    headers = {"Idempotent-Replayed": "true"} if replayed else None
    return json_response(ProgramOut().dump(document), 200 if replayed else 201, headers)


@route(
    routes,
    "/v1/stations/<station>/volunteer-teams",
    methods=["POST"],
    body=VolunteerTeamCommand,
    response=ProgramOut,
    status=201,
    errors=ERRORS,
)
def form_volunteer_team(call, station):
    """A volunteer service team (志愿服务队) formed at the station."""
    return _record(call, station, "volunteer_team")


@route(
    routes,
    "/v1/stations/<station>/volunteer-teams/<team_id>/members",
    methods=["POST"],
    body=VolunteerCommand,
    response=ProgramOut,
    status=201,
    errors=ERRORS,
)
def add_volunteer(call, station, team_id):
    """A volunteer joined one of the station's teams (kept pseudonymous in the event)."""
    return _record(call, station, "volunteer", team_id)


@route(
    routes,
    "/v1/stations/<station>/social-organisations",
    methods=["POST"],
    body=SocialOrganisationCommand,
    response=ProgramOut,
    status=201,
    errors=ERRORS,
)
def cultivate_social_organisation(call, station):
    """A social organisation (社会组织) cultivated by the station."""
    return _record(call, station, "social_organisation")


@route(
    routes,
    "/v1/stations/<station>/donations",
    methods=["POST"],
    body=DonationCommand,
    response=ProgramOut,
    status=201,
    errors=ERRORS,
)
def receive_donation(call, station):
    """A donation received: money in integer fen, or goods and their quantity."""
    return _record(call, station, "donation")


@route(
    routes,
    "/v1/stations/<station>/aid",
    methods=["POST"],
    body=AidCommand,
    response=ProgramOut,
    status=201,
    errors=ERRORS,
)
def distribute_aid(call, station):
    """Aid supplies given to a household in hardship (by its pseudonymous ref)."""
    return _record(call, station, "aid")


@route(
    routes,
    "/v1/stations/<station>/activities",
    methods=["POST"],
    body=ActivityCommand,
    response=ProgramOut,
    status=201,
    errors=ERRORS,
)
def hold_activity(call, station):
    """An activity held: policy publicity, needs survey, group work, economic status
    verification, or training of social workers."""
    return _record(call, station, "activity")


@route(
    routes,
    "/v1/stations/<station>/programs",
    query=ProgramQuery,
    response=ProgramList,
    errors=(403, 404),
)
def list_programs(call, station):
    """What the station has recorded, newest first (optionally one kind); paged with
    ``cursor``/``next_cursor``."""
    station = _station(call, station)
    records, next_cursor = call.context.store.programs.page(
        station, call.query.get("kind"), call.query["limit"], call.query.get("cursor")
    )
    return json_response(ProgramList().dump({"records": records, "next_cursor": next_cursor}))


@route(
    routes,
    "/v1/stations/<station>/programs/<record_id>/corrections",
    methods=["POST"],
    body=CorrectionCommand,
    response=ProgramOut,
    status=201,
    errors=ERRORS,
)
def correct_program(call, station, record_id):
    """Correct (``values``) or void (``void: true``) a program record, with the reason: a
    new record referring to the original, which stays as it was; figures use the
    corrected value. Idempotent with ``Idempotency-Key``.

    For the station head and district administrators; other staff may correct (not
    void) a record they made themselves within 24 hours, while nobody else corrected it
    (403 otherwise, saying why)."""
    station = _station(call, station)
    CorrectionCommand.values_or_void(call.body)
    key, context = _idempotency_key(call), call.context
    try:
        document, replayed = handlers_corrections.correct_program(
            context.store,
            context.relay,
            call.principal,
            station,
            record_id,
            call.body,
            key,
            context.settings.pseudonym_key,
        )
    except domain_corrections.CorrectionRefused as exc:
        code = {404: "not_found", 403: "forbidden"}.get(exc.status, "not_correctable")
        raise ApiError(exc.status, code, exc.message) from None
    except handlers_programs.ProgramConflict as exc:
        raise ApiError(409, "idempotency_conflict", str(exc)) from None
    except handlers_programs.ProgramRefused as exc:
        raise ApiError(404, "not_found", exc.message, {exc.field: [exc.message]}) from None
    except ValidationError as exc:
        raise ApiError(
            422, "invalid_fields", "some fields are invalid", {"values": exc.messages}
        ) from None
    headers = {"Idempotent-Replayed": "true"} if replayed else None
    return json_response(ProgramOut().dump(document), 200 if replayed else 201, headers)


@route(
    routes,
    "/v1/stations/<station>/programs/<record_id>",
    response=ProgramHistoryOut,
    errors=(403, 404),
)
def program_history(call, station, record_id):
    """A program record with its history: the original, each correction or void (reason,
    who, when), and what it says now."""
    station = _station(call, station)
    programs = call.context.store.programs
    record = programs.get(record_id)
    if record is None or record["station"] != station:
        raise ApiError(404, "not_found", f"no program record {record_id} at {station}")
    corrections = programs.corrections_of(record_id)
    now = domain_corrections.current(record, corrections)
    return json_response(
        ProgramHistoryOut().dump(
            {
                "record": record,
                "corrections": corrections,
                "void": now["void"],
                "revision": now["revision"],
                "current": now["details"],
            }
        )
    )
