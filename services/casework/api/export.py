"""Export of a station's cases of a period as CSV (the monthly report to the civil
affairs bureau): station heads their station's, district administrators any."""

from werkzeug.wrappers import Response

from services.casework.domain import export as domain_export
from services.casework.domain import residents as domain_residents
from services.casework.schemas.residents import ExportQuery
from services.common.http import ApiError, Route, route, scoped_station

routes: list[Route] = []
EXPORTERS = ("station_head", "district_admin")
MAX_ROWS = 50_000
RECORDS_READ = 1000  # residents read at once (one _id read each)


@route(routes, "/v1/cases/export", query=ExportQuery, errors=(403,))
def export_cases(call):
    """The station's cases opened in a period (``from``..``to``, district days) as CSV,
    UTF-8 with BOM; personal fields masked unless ``personal=full`` and the role allows
    (each case exported in full is recorded in the access log)."""
    principal, query, store = call.principal, call.query, call.context.store
    if principal.role not in EXPORTERS:
        raise ApiError(403, "forbidden", "only station heads and district administrators export")
    full = query["personal"] == "full"
    if full and not domain_residents.sees_in_full(principal.role):
        raise ApiError(403, "forbidden", "your role may not export personal data in full")
    if query["to"] < query["from_"]:
        raise ApiError(
            422, "invalid_fields", "some fields are invalid", {"to": ["must not be before from"]}
        )
    station = scoped_station(principal, query.get("station"))
    cases = store.opened_between(station, query["from_"], query["to"], MAX_ROWS)
    records: dict = {}
    for start in range(0, len(cases), RECORDS_READ):
        records.update(
            store.residents.get_many([c.resident_ref for c in cases[start : start + RECORDS_READ]])
        )
    rows = []
    for case in cases:
        record = records.get(case.resident_ref) or case.resident
        if full:
            store.record_access(case.case_id, principal, "export", case.station)
        rows.append(domain_export.row(case, record, full))
    name = f"cases-{station or 'district'}-{query['from_']}-{query['to']}.csv"
    return Response(
        domain_export.to_csv(rows),
        status=200,
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


export_cases.openapi = {
    "responses": {
        "200": {
            "description": "CSV, UTF-8 with BOM, one line per case, Chinese column titles",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    }
}
