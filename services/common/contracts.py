"""The events catalogue: every event type, its data schema, producer and consumers.

This module is the single definition of the AMQP contract. Producers build events
with ``envelope.new_event(CONTRACT, data)``, consumers validate them with
``envelope.load_event(body, CONTRACT)``, the topology and the docs are generated from
``CATALOGUE``, and a test checks the declared consumers against the code. What one
entry is, and the names made from it (type, handler, queue): ``event_contract.py``.

An event type carries its version (``.v1``); a breaking change is a new type (the same
``define_contract(...)`` with ``version=2``) published alongside the old one until every
consumer has moved (docs/operations.md, section 8). Adding an event type:
docs/architecture.md, "Adding an event type".
"""

from services.common import events
from services.common.event_contract import EventContract, define_contract

OUTBOUND_EXCHANGE = "shegong.outbound"  # what leaves for partner agencies


# The consumer of every event type: reporting, whose permanent event store keeps them
# all (its entrypoints are made from this catalogue: services/reporting/service.py).
EVENT_STORE = ("reporting",)

REQUEST_RECEIVED = define_contract(
    "request.received",
    "intake",
    events.RequestReceived,
    ("casework", "notifications", *EVENT_STORE),
    "A resident's request was recorded: by a station, the web, or another government system.",
)
RESIDENT_REGISTRY_UPDATED = define_contract(
    "resident.registry_updated",
    "intake",
    events.ResidentRegistryUpdated,
    ("casework", *EVENT_STORE),
    "A person was added to, changed in or removed from the key-persons-of-concern list.",
)
CASE_OPENED = define_contract(
    "case.opened",
    "casework",
    events.CaseOpened,
    ("intake", *EVENT_STORE),
    "A case was opened for a request in the resident's township station, with its priority.",
)
CASE_ASSIGNED = define_contract(
    "case.assigned",
    "casework",
    events.CaseAssigned,
    ("notifications", *EVENT_STORE),
    "A case was given to a social worker on duty at the station (first time, reassigned "
    "by the station head, or reopened).",
)
CASE_ACCEPTED = define_contract(
    "case.accepted",
    "casework",
    events.CaseAccepted,
    ("notifications", *EVENT_STORE),
    "The assigned social worker accepted the case.",
)
CASE_ACTION_RECORDED = define_contract(
    "case.action_recorded",
    "casework",
    events.CaseActionRecorded,
    EVENT_STORE,
    "Work on the case was recorded (call, visit, purchase, delivery, referral, note).",
)
CASE_REQUEST_LINKED = define_contract(
    "case.request_linked",
    "casework",
    events.CaseRequestLinked,
    ("intake", *EVENT_STORE),
    "A repeat request from the same resident for the same need joined the open case.",
)
CASE_ESCALATED = define_contract(
    "case.escalated",
    "casework",
    events.CaseEscalated,
    ("notifications", *EVENT_STORE),
    "The case was escalated to the station head (nobody on duty, service level breached, "
    "or by hand).",
)
CASE_SLA_BREACHED = define_contract(
    "case.sla_breached",
    "casework",
    events.CaseSlaBreached,
    ("notifications", *EVENT_STORE),
    "A case was not accepted or not resolved within its priority's service level.",
)
CASE_REFERRED = define_contract(
    "case.referred",
    "casework",
    events.CaseReferred,
    ("intake", *EVENT_STORE),
    "The case was referred to another agency (a registered one: intake learns which "
    "agency may answer it).",
)
CASE_REFERRAL_ANSWERED = define_contract(
    "case.referral_answered",
    "casework",
    events.CaseReferralAnswered,
    EVENT_STORE,
    "The agency accepted, rejected or finished a referral; the case followed.",
)
REFERRAL_SENT = define_contract(
    "referral.sent",
    "casework",
    events.ReferralSent,
    ("notifications", *EVENT_STORE),
    "A referral leaves for a partner agency: on shegong.outbound, routing key the agency "
    "id, with only the resident data the agency's declared purpose names. AMQP agencies "
    "consume their own queue; notifications delivers it to webhook agencies.",
    exchange=OUTBOUND_EXCHANGE,
    routing_field="agency",
)
REFERRAL_ANSWERED = define_contract(
    "referral.answered",
    "intake",
    events.ReferralAnswered,
    ("casework", *EVENT_STORE),
    "A partner agency answered a referral made to it (accepted, rejected with a reason, "
    "done), received by intake on POST /v1/events or shegong.inbound.",
)
CASE_RESOLVED = define_contract(
    "case.resolved",
    "casework",
    events.CaseResolved,
    ("intake", "notifications", *EVENT_STORE),
    "The case was resolved; the resident is told.",
)
CASE_CLOSED = define_contract(
    "case.closed",
    "casework",
    events.CaseClosed,
    ("intake", *EVENT_STORE),
    "A resolved case was closed; closed is final.",
)
CASE_REOPENED = define_contract(
    "case.reopened",
    "casework",
    events.CaseReopened,
    ("intake", *EVENT_STORE),
    "A resolved case was reopened within the allowed period.",
)
CASE_CANCELLED = define_contract(
    "case.cancelled",
    "casework",
    events.CaseCancelled,
    ("intake", *EVENT_STORE),
    "The case was cancelled (duplicate, or withdrawn by the resident).",
)
VOLUNTEER_TEAM_FORMED = define_contract(
    "program.volunteer_team_formed",
    "casework",
    events.VolunteerTeamFormed,
    EVENT_STORE,
    "A station formed a volunteer service team (志愿服务队).",
)
VOLUNTEER_JOINED = define_contract(
    "program.volunteer_joined",
    "casework",
    events.VolunteerJoined,
    EVENT_STORE,
    "A volunteer joined one of the station's teams.",
)
SOCIAL_ORGANISATION_CULTIVATED = define_contract(
    "program.social_organisation_cultivated",
    "casework",
    events.SocialOrganisationCultivated,
    EVENT_STORE,
    "A station cultivated a social organisation (社会组织).",
)
DONATION_RECEIVED = define_contract(
    "program.donation_received",
    "casework",
    events.DonationReceived,
    EVENT_STORE,
    "A station received a donation: money in integer fen, or goods.",
)
AID_DISTRIBUTED = define_contract(
    "program.aid_distributed",
    "casework",
    events.AidDistributed,
    EVENT_STORE,
    "Aid supplies were given to a household in hardship.",
)
ACTIVITY_HELD = define_contract(
    "program.activity_held",
    "casework",
    events.ActivityHeld,
    EVENT_STORE,
    "A station held an activity: policy publicity, needs survey, group work, economic "
    "status verification, or training of social workers.",
)
STATION_ROSTER_PUBLISHED = define_contract(
    "station.roster_published",
    "casework",
    events.StationRosterPublished,
    EVENT_STORE,
    "A station's roster was loaded or changed: every person on it (id, role, weekly duty "
    "days), no names or numbers. Reporting counts the stations' social workers from it.",
)
CASE_RESIDENT_UNREACHED = define_contract(
    "case.resident_unreached",
    "casework",
    events.CaseResidentUnreached,
    ("notifications", *EVENT_STORE),
    "An SMS to the case's resident ended failed; the case records it and its owner gets "
    "an in-app message to phone the resident instead.",
)
PROGRAM_RECORD_CORRECTED = define_contract(
    "program.record_corrected",
    "casework",
    events.ProgramRecordCorrected,
    EVENT_STORE,
    "A program record was corrected or voided by a new record that refers to it, with the "
    "reason and who made it; the figures use the corrected value (none when voided).",
)
MESSAGE_SENT = define_contract(
    "message.sent",
    "notifications",
    events.MessageSent,
    EVENT_STORE,
    "An SMS or in-app message was accepted by the provider.",
)
MESSAGE_DELIVERED = define_contract(
    "message.delivered",
    "notifications",
    events.MessageDelivered,
    EVENT_STORE,
    "The provider's receipt says the message reached the phone.",
)
MESSAGE_FAILED = define_contract(
    "message.failed",
    "notifications",
    events.MessageFailed,
    ("casework", *EVENT_STORE),
    "A message could not be delivered: refused for good (failed) or retries exhausted "
    "(technical_failure).",
)

CATALOGUE = {
    entry.type: entry
    for entry in (
        REQUEST_RECEIVED,
        RESIDENT_REGISTRY_UPDATED,
        CASE_OPENED,
        CASE_ASSIGNED,
        CASE_ACCEPTED,
        CASE_ACTION_RECORDED,
        CASE_REQUEST_LINKED,
        CASE_ESCALATED,
        CASE_SLA_BREACHED,
        CASE_REFERRED,
        CASE_REFERRAL_ANSWERED,
        CASE_RESOLVED,
        REFERRAL_SENT,
        REFERRAL_ANSWERED,
        CASE_CLOSED,
        CASE_REOPENED,
        CASE_CANCELLED,
        CASE_RESIDENT_UNREACHED,
        VOLUNTEER_TEAM_FORMED,
        VOLUNTEER_JOINED,
        SOCIAL_ORGANISATION_CULTIVATED,
        DONATION_RECEIVED,
        AID_DISTRIBUTED,
        ACTIVITY_HELD,
        STATION_ROSTER_PUBLISHED,
        PROGRAM_RECORD_CORRECTED,
        MESSAGE_SENT,
        MESSAGE_DELIVERED,
        MESSAGE_FAILED,
    )
}


def contract_of(event_type: str) -> EventContract:
    """The contract of an event type of the catalogue; KeyError for any other type."""
    return CATALOGUE[event_type]


def consumed_by(service: str) -> tuple:
    """The contracts of the catalogue that ``service`` declares itself a consumer of."""
    return tuple(entry for entry in CATALOGUE.values() if service in entry.consumers)
