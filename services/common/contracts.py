"""The events catalogue: every event type, its data schema, producer and consumers.

This module is the single definition of the AMQP contract. Producers build events
with ``envelope.new_event(CONTRACT, data)``, consumers validate them with
``envelope.load_event(body, CONTRACT)``, the topology and the docs are generated from
``CATALOGUE``, and a test checks the declared consumers against the code.

An event type carries its version (``.v1``); a breaking change is a new type that is
published alongside the old one until every consumer has moved.
"""

import builtins
from dataclasses import dataclass

from services.common.events import (
    ActivityHeld,
    AidDistributed,
    CaseAccepted,
    CaseActionRecorded,
    CaseAssigned,
    CaseCancelled,
    CaseClosed,
    CaseEscalated,
    CaseOpened,
    CaseReferralAnswered,
    CaseReferred,
    CaseReopened,
    CaseRequestLinked,
    CaseResidentUnreached,
    CaseResolved,
    CaseSlaBreached,
    DonationReceived,
    MessageDelivered,
    MessageFailed,
    MessageSent,
    ProgramRecordCorrected,
    ReferralAnswered,
    ReferralSent,
    RequestReceived,
    ResidentRegistryUpdated,
    SocialOrganisationCultivated,
    StationRosterPublished,
    VolunteerJoined,
    VolunteerTeamFormed,
)


@dataclass(frozen=True)
class EventContract:
    """One event type: ``shegong.<aggregate>.<name>.v<version>``.

    ``aggregate`` is what the event is about (request, case, message, program, ...) and
    ``name`` what happened to it; consumers dispatch on these, never on the type string.
    """

    type: str
    producer: str
    schema: builtins.type  # (``type`` here is the field above)
    consumers: tuple
    description: str
    aggregate: str
    name: str
    # Published elsewhere than ``<producer>.events`` with the type as routing key: the
    # exchange, and the data field whose value is the routing key (e.g. the agency id).
    exchange: str = ""
    routing_field: str = ""

    @property
    def short_type(self) -> str:
        """case.opened: the type without its namespace and version."""
        return f"{self.aggregate}.{self.name}"

    @property
    def handler_name(self) -> str:
        """case_opened: what a service's handler of this event is called, in every service
        (its queue is named after it: topology.handler_queue)."""
        return f"{self.aggregate}_{self.name}"

    @property
    def exchange_name(self) -> str:
        return self.exchange or f"{self.producer}.events"

    def routing_key(self, data: dict) -> str:
        return str(data[self.routing_field]) if self.routing_field else self.type


def _contract(name, producer, schema, consumers, description, **where):
    aggregate, _, short_name = name.partition(".")
    return EventContract(
        f"shegong.{name}.v1",
        producer,
        schema,
        tuple(consumers),
        description,
        aggregate,
        short_name,
        **where,
    )


OUTBOUND_EXCHANGE = "shegong.outbound"  # what leaves for partner agencies


ALL = ("reporting",)  # reporting keeps every event in its permanent event store

REQUEST_RECEIVED = _contract(
    "request.received",
    "intake",
    RequestReceived,
    ("casework", "notifications", *ALL),
    "A resident's request was recorded: by a station, the web, or another government system.",
)
RESIDENT_REGISTRY_UPDATED = _contract(
    "resident.registry_updated",
    "intake",
    ResidentRegistryUpdated,
    ("casework", *ALL),
    "A person was added to, changed in or removed from the key-persons-of-concern list.",
)
CASE_OPENED = _contract(
    "case.opened",
    "casework",
    CaseOpened,
    ("intake", *ALL),
    "A case was opened for a request in the resident's township station, with its priority.",
)
CASE_ASSIGNED = _contract(
    "case.assigned",
    "casework",
    CaseAssigned,
    ("notifications", *ALL),
    "A case was given to a social worker on duty at the station (first time, reassigned "
    "by the station head, or reopened).",
)
CASE_ACCEPTED = _contract(
    "case.accepted",
    "casework",
    CaseAccepted,
    ("notifications", *ALL),
    "The assigned social worker accepted the case.",
)
CASE_ACTION_RECORDED = _contract(
    "case.action_recorded",
    "casework",
    CaseActionRecorded,
    ALL,
    "Work on the case was recorded (call, visit, purchase, delivery, referral, note).",
)
CASE_REQUEST_LINKED = _contract(
    "case.request_linked",
    "casework",
    CaseRequestLinked,
    ("intake", *ALL),
    "A repeat request from the same resident for the same need joined the open case.",
)
CASE_ESCALATED = _contract(
    "case.escalated",
    "casework",
    CaseEscalated,
    ("notifications", *ALL),
    "The case was escalated to the station head (nobody on duty, service level breached, "
    "or by hand).",
)
CASE_SLA_BREACHED = _contract(
    "case.sla_breached",
    "casework",
    CaseSlaBreached,
    ("notifications", *ALL),
    "A case was not accepted or not resolved within its priority's service level.",
)
CASE_REFERRED = _contract(
    "case.referred",
    "casework",
    CaseReferred,
    ("intake", *ALL),
    "The case was referred to another agency (a registered one: intake learns which "
    "agency may answer it).",
)
CASE_REFERRAL_ANSWERED = _contract(
    "case.referral_answered",
    "casework",
    CaseReferralAnswered,
    ALL,
    "The agency accepted, rejected or finished a referral; the case followed.",
)
REFERRAL_SENT = _contract(
    "referral.sent",
    "casework",
    ReferralSent,
    ("notifications", *ALL),
    "A referral leaves for a partner agency: on shegong.outbound, routing key the agency "
    "id, with only the resident data the agency's declared purpose names. AMQP agencies "
    "consume their own queue; notifications delivers it to webhook agencies.",
    exchange=OUTBOUND_EXCHANGE,
    routing_field="agency",
)
REFERRAL_ANSWERED = _contract(
    "referral.answered",
    "intake",
    ReferralAnswered,
    ("casework", *ALL),
    "A partner agency answered a referral made to it (accepted, rejected with a reason, "
    "done), received by intake on POST /v1/events or shegong.inbound.",
)
CASE_RESOLVED = _contract(
    "case.resolved",
    "casework",
    CaseResolved,
    ("intake", "notifications", *ALL),
    "The case was resolved; the resident is told.",
)
CASE_CLOSED = _contract(
    "case.closed",
    "casework",
    CaseClosed,
    ("intake", *ALL),
    "A resolved case was closed; closed is final.",
)
CASE_REOPENED = _contract(
    "case.reopened",
    "casework",
    CaseReopened,
    ("intake", *ALL),
    "A resolved case was reopened within the allowed period.",
)
CASE_CANCELLED = _contract(
    "case.cancelled",
    "casework",
    CaseCancelled,
    ("intake", *ALL),
    "The case was cancelled (duplicate, or withdrawn by the resident).",
)
VOLUNTEER_TEAM_FORMED = _contract(
    "program.volunteer_team_formed",
    "casework",
    VolunteerTeamFormed,
    ALL,
    "A station formed a volunteer service team (志愿服务队).",
)
VOLUNTEER_JOINED = _contract(
    "program.volunteer_joined",
    "casework",
    VolunteerJoined,
    ALL,
    "A volunteer joined one of the station's teams.",
)
SOCIAL_ORGANISATION_CULTIVATED = _contract(
    "program.social_organisation_cultivated",
    "casework",
    SocialOrganisationCultivated,
    ALL,
    "A station cultivated a social organisation (社会组织).",
)
DONATION_RECEIVED = _contract(
    "program.donation_received",
    "casework",
    DonationReceived,
    ALL,
    "A station received a donation: money in integer fen, or goods.",
)
AID_DISTRIBUTED = _contract(
    "program.aid_distributed",
    "casework",
    AidDistributed,
    ALL,
    "Aid supplies were given to a household in hardship.",
)
ACTIVITY_HELD = _contract(
    "program.activity_held",
    "casework",
    ActivityHeld,
    ALL,
    "A station held an activity: policy publicity, needs survey, group work, economic "
    "status verification, or training of social workers.",
)
STATION_ROSTER_PUBLISHED = _contract(
    "station.roster_published",
    "casework",
    StationRosterPublished,
    ALL,
    "A station's roster was loaded or changed: every person on it (id, role, weekly duty "
    "days), no names or numbers. Reporting counts the stations' social workers from it.",
)
CASE_RESIDENT_UNREACHED = _contract(
    "case.resident_unreached",
    "casework",
    CaseResidentUnreached,
    ("notifications", *ALL),
    "An SMS to the case's resident ended failed; the case records it and its owner gets "
    "an in-app message to phone the resident instead.",
)
PROGRAM_RECORD_CORRECTED = _contract(
    "program.record_corrected",
    "casework",
    ProgramRecordCorrected,
    ALL,
    "A program record was corrected or voided by a new record that refers to it, with the "
    "reason and who made it; the figures use the corrected value (none when voided).",
)
MESSAGE_SENT = _contract(
    "message.sent",
    "notifications",
    MessageSent,
    ALL,
    "An SMS or in-app message was accepted by the provider.",
)
MESSAGE_DELIVERED = _contract(
    "message.delivered",
    "notifications",
    MessageDelivered,
    ALL,
    "The provider's receipt says the message reached the phone.",
)
MESSAGE_FAILED = _contract(
    "message.failed",
    "notifications",
    MessageFailed,
    ("casework", *ALL),
    "A message could not be delivered: refused for good (failed) or retries exhausted "
    "(technical_failure).",
)

CATALOGUE = {
    contract.type: contract
    for contract in (
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
