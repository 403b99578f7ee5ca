"""The station programs' service layer: record a team, a volunteer, a social
organisation, a donation, an aid distribution or an activity, once, with its event.

Each record is its own document with its event in its own outbox: the record and the
event are one write. The record's id is derived from the station, the kind and the
caller's Idempotency-Key, so a retried POST finds the first record (same body: the
same answer; another body: 409) and publishes nothing twice.
"""

import hashlib
import json
from datetime import datetime

from services.casework.store import CaseStore
from services.common import clock, ids
from services.common.auth import Principal
from services.common.contracts import (
    ACTIVITY_HELD,
    AID_DISTRIBUTED,
    DONATION_RECEIVED,
    SOCIAL_ORGANISATION_CULTIVATED,
    VOLUNTEER_JOINED,
    VOLUNTEER_TEAM_FORMED,
)
from services.common.envelope import new_event
from services.common.outbox import FastPath
from services.common.privacy import mask_name, pseudonym

# kind -> (contract, the id field of its event)
KINDS = {
    "volunteer_team": (VOLUNTEER_TEAM_FORMED, "team_id"),
    "volunteer": (VOLUNTEER_JOINED, None),
    "social_organisation": (SOCIAL_ORGANISATION_CULTIVATED, "organisation_id"),
    "donation": (DONATION_RECEIVED, "donation_id"),
    "aid": (AID_DISTRIBUTED, "aid_id"),
    "activity": (ACTIVITY_HELD, "activity_id"),
}


class ProgramConflict(Exception):
    """The Idempotency-Key was used before with another body."""


class ProgramRefused(Exception):
    """The record refers to something that is not there (e.g. an unknown team)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field, self.message = field, message


def fingerprint(body: dict) -> str:
    return hashlib.sha256(
        json.dumps(body, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8")
    ).hexdigest()


def record_id(kind: str, station: str, key: str | None) -> str:
    if not key:
        return f"{kind}-{ids.uuid4()}"
    digest = hashlib.sha256(f"{station}\x1f{kind}\x1f{key}".encode("utf-8")).hexdigest()[:32]
    return f"{kind}-{digest}"


def _event_details(store, kind, station, body, pseudonym_key, team_id):
    """What the event says besides the ProgramRef (personal data stays out)."""
    if kind == "volunteer":
        team = store.programs.get(team_id)
        if not team or team["kind"] != "volunteer_team" or team["station"] != station:
            raise ProgramRefused("team_id", f"no volunteer team {team_id} at {station}")
        return {
            "team_id": team_id,
            "member_ref": pseudonym(pseudonym_key, "volunteer", body["phone"]),
        }, {"name": mask_name(body["name"])}
    details = {key: value for key, value in body.items() if key not in ("on", "donor")}
    return details, ({"donor": body["donor"]} if body.get("donor") else {})


def record_program(
    store: CaseStore,
    relay: FastPath,
    principal: Principal,
    station: str,
    kind: str,
    body: dict,
    key: str | None = None,
    pseudonym_key: str = "",
    team_id: str | None = None,
    now: datetime | None = None,
) -> tuple[dict, bool]:
    """Record one program entry; returns ``(document, replayed)``."""
    now = now or clock.now()
    rid = record_id(kind, station, key)
    print_ = fingerprint({"body": body, "team_id": team_id})
    existing = store.programs.get(rid)
    if existing:
        if existing["fingerprint"] != print_:
            raise ProgramConflict(f"Idempotency-Key already used for another {kind}")
        return existing, True
    contract, id_field = KINDS[kind]
    on = body["on"].isoformat() if body.get("on") else clock.local_day(now)
    details, kept = _event_details(store, kind, station, body, pseudonym_key, team_id)
    data = {"station": station, "recorded_by": principal.id, "on": on, **details}
    if id_field:
        data[id_field] = rid
    event = new_event(contract, data, subject=rid, correlation_id=rid, sequence=1, time=now)
    document = {
        "_id": rid,
        "kind": kind,
        "station": station,
        "on": on,
        "recorded_by": principal.id,
        "recorded_at": clock.iso(now),
        "recorded_ms": clock.to_ms(now),
        "details": {**event["data"], **kept},
        "fingerprint": print_,
    }
    stored = store.programs.add(document, [event])
    if stored is None:  # a concurrent retry with the same key won
        return record_program(
            store, relay, principal, station, kind, body, key, pseudonym_key, team_id, now
        )
    relay.publish_now("programs", stored)
    return stored, False
