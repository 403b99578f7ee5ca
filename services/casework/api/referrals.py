"""GET /v1/referrals: the station's referrals to agencies and where each one stands."""

from services.casework.schemas import ReferralList, ReferralQuery
from services.common.http import json_response, route, scoped_station

routes: list = []


def listed(case) -> dict:
    """A case's current referral as the list shows it (state ``sent`` until answered)."""
    referral = case.referral
    return {
        "case_id": case.case_id,
        "station": case.station,
        "case_status": case.status,
        "referral_id": referral.get("referral_id"),
        "agency": referral["agency"],
        "agency_name": referral.get("agency_name"),
        "state": referral.get("answer") or "sent",
        "reason": referral.get("reason"),
        "referred_by": referral.get("referred_by"),
        "referred_at": referral.get("referred_at"),
        "answered_at": referral.get("answered_at"),
    }


@route(routes, "/v1/referrals", query=ReferralQuery, response=ReferralList, errors=(403,))
def list_referrals(call):
    """Referrals of a station (staff: their own), newest first, with their state: sent
    (waiting for the agency), accepted, rejected (with the reason) or done."""
    query = call.query
    station = scoped_station(call.principal, query.get("station"))
    cases = call.context.store.referred(station, query.get("agency"))
    found = [listed(case) for case in cases]
    if query.get("state"):
        found = [item for item in found if item["state"] == query["state"]]
    return json_response(ReferralList().dump({"referrals": found[: query["limit"]]}))
