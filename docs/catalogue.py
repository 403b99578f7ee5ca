"""What the code says about each event (names, entrypoints, exchanges, queues) and the
example envelopes of the story, for the generated documents."""

from datetime import datetime

from docs.examples import EVENT_IDS, EXAMPLES, REQUEST_ID
from services.common import contracts, messaging
from services.common.contracts import CATALOGUE
from services.common.envelope import new_event
from services.common.messaging import consumers_of
from services.common.service_classes import SERVICE_CLASSES, service_class


def contract_names():
    """Contract type -> its Python name in services.common.contracts (e.g. CASE_OPENED)."""
    return {
        value.type: name
        for name, value in vars(contracts).items()
        if isinstance(value, contracts.EventContract)
    }


def entrypoints_by_type():
    """Event type -> sorted [(service, method)] of every entrypoint on the service classes."""
    found = {event_type: [] for event_type in CATALOGUE}
    for service in SERVICE_CLASSES:
        for method, contract in consumers_of(service_class(service)):
            found.setdefault(contract.type, []).append((service, method))
    return {event_type: sorted(pairs) for event_type, pairs in found.items()}


def exchange_name(contract):
    return messaging.contract_exchange(contract).name


def routing_key(contract):
    """The routing key as the docs show it: the type, or the field it is taken from."""
    return f"<{contract.routing_field}>" if contract.routing_field else contract.type


def queue_name(contract, service, method):
    return messaging.entrypoint_queue(contract, service, method).name


# ---------------------------------------------------------------------------------------

# What the subject of each type is, as the producers set it.
SUBJECTS = {
    "shegong.request.received.v1": "the request id (`request_id`)",
    "shegong.resident.registry_updated.v1": "the resident's pseudonymous id (`resident_ref`)",
    "shegong.message.sent.v1": "the message id (`message_id`)",
    "shegong.message.delivered.v1": "the message id (`message_id`)",
    "shegong.message.failed.v1": "the message id (`message_id`)",
    "shegong.program.volunteer_team_formed.v1": "the team id (`team_id`)",
    "shegong.program.volunteer_joined.v1": "the team id (`team_id`)",
    "shegong.program.social_organisation_cultivated.v1": "the organisation id",
    "shegong.program.donation_received.v1": "the donation id (`donation_id`)",
    "shegong.program.aid_distributed.v1": "the aid record id (`aid_id`)",
    "shegong.program.activity_held.v1": "the activity id (`activity_id`)",
    "shegong.station.roster_published.v1": "the station id (`station`)",
}
CASE_SUBJECT = "the case id (`case_id`)"


def example_envelope(contract):
    """A valid envelope of ``contract`` (built and validated by envelope.new_event)."""
    if contract.type not in EXAMPLES or contract.type not in EVENT_IDS:
        raise KeyError(
            f"docs/generate.py has no example of {contract.type}: add one to EXAMPLES and EVENT_IDS"
        )
    data, subject, causation, sequence, time = EXAMPLES[contract.type]
    return new_event(
        contract,
        data,
        subject=subject,
        correlation_id=REQUEST_ID,
        causation_id=causation,
        sequence=sequence,
        time=datetime.fromisoformat(time),
        event_id=EVENT_IDS[contract.type],
    )
