"""Events from other government systems, over HTTP (POST /v1/events) or the inbound
exchange: authenticated, refused with a reason, or recorded (a request, a registry
change, an agency's answer), many at once."""

import logging
from dataclasses import dataclass
from typing import Any

from services.common import clock
from services.common.envelope import InvalidEvent, NotKnownYet, new_event
from services.common.outbox import FastPath
from services.intake import domain, inbound_binding
from services.intake.domain import inbound
from services.intake.handlers import recording, referrals
from services.intake.store import RequestStore
from services.intake.systems import ExternalSystem, ExternalSystems

log = logging.getLogger(__name__)


@dataclass
class Recorded:
    """What an inbound event became (a request or a registry change), and whether it
    was received before (the same source and id: acknowledged and ignored)."""

    document: dict
    replayed: bool


def receive_inbound(
    store: RequestStore, relay: FastPath, system: ExternalSystem, body: Any, pseudonym_key: str
) -> Recorded:
    """Take one CloudEvent from an authenticated external system.

    Returns Recorded (``replayed``: the same (source, id) was received before and is
    ignored). Raises InboundRejected for an invalid envelope or data, an unknown type,
    or a type or source this system may not use: nothing is recorded then.
    """
    [outcome] = receive_inbound_many(store, relay, system, [body], pseudonym_key)
    if isinstance(outcome, inbound.InboundRejected):
        raise outcome
    return outcome


def receive_inbound_many(
    store: RequestStore,
    relay: FastPath,
    system: ExternalSystem,
    bodies: list,
    pseudonym_key: str,
) -> list:
    """Take a batch of CloudEvents from one system; per event, in order, a Recorded or
    the InboundRejected that refused it (nothing recorded for that one).

    The batch's registry updates are inserted with one write (a repeat is found by the
    insert, not by a read before it) and published together; its requests likewise
    (recording.record_requests: the repeats found with one read, the need claims and
    the requests each inserted with one write, the events published together).
    """
    now = clock.now()
    outcomes: list[Recorded | inbound.InboundRejected | None] = [None] * len(bodies)
    changes: list[tuple] = []
    requests: list[tuple] = []
    for index, body in enumerate(bodies):
        try:
            envelope = inbound.parse_envelope(body)
            inbound_type = inbound.authorise(system, envelope)
            data = inbound.load_data(inbound_type, envelope)
        except inbound.InboundRejected as exc:
            outcomes[index] = exc
            continue
        record_id = inbound.inbound_id(envelope["source"], envelope["id"])
        if inbound_type.becomes == "referral_answer":  # only for referrals made to it
            try:
                outcomes[index] = Recorded(
                    *referrals.receive_answer(
                        store,
                        relay,
                        system,
                        envelope,
                        data,
                        record_id,
                        inbound.source_of(system, inbound_type, envelope),
                    )
                )
            except inbound.InboundRejected as exc:
                outcomes[index] = exc
            continue
        if inbound_type.becomes == "registry_update":
            update, (contract, event_data) = inbound.registry_update(
                record_id, system, inbound_type, envelope, data, pseudonym_key, now
            )
            event = new_event(
                contract,
                event_data,
                subject=event_data["resident_ref"],
                correlation_id=record_id,
                sequence=1,
                time=now,
            )
            changes.append((index, update, [event]))
            continue
        requests.append(
            (
                index,
                recording.NewRequest(
                    record_id,
                    inbound.request_body(inbound_type, envelope, data, now),
                    f"system:{system.id}",
                    domain.fingerprint(envelope["data"]),
                    source=inbound.source_of(system, inbound_type, envelope),
                ),
            )
        )
    if requests:  # a repeat (same source and id) is found by one read, touching no claim
        recorded = recording.record_requests(
            store, relay, None, [r for _, r in requests], pseudonym_key
        )
        for (index, _), (document, replayed) in zip(requests, recorded, strict=True):
            outcomes[index] = Recorded(document, replayed)
    documents = store.add_registry_updates([(r, e) for _, r, e in changes])
    for (index, update, _), document in zip(changes, documents, strict=True):
        if document is None:  # a repeat: the update stored before
            outcomes[index] = Recorded(store.registry_update(update["_id"]) or update, True)
            continue
        log.info(
            "registry update %s recorded (%s from %s)", update["_id"], update["change"], system.id
        )
        outcomes[index] = Recorded(document, False)
    if written := [d for d in documents if d is not None]:
        relay.publish_now_many("registry_updates", written)
    return outcomes


def authenticate_amqp(
    systems: ExternalSystems, envelope: dict, credentials: dict
) -> ExternalSystem:
    """The system an AMQP event comes from: named by its source, proven by the AMQP user
    RabbitMQ verified or by its API key (refused as unknown_system or unauthenticated)."""
    system = systems.for_source(envelope["source"])
    if system is None:
        raise inbound.InboundRejected(
            "unknown_system", f"no system is configured with source {envelope['source']}"
        )
    user_id, key = credentials.get("user_id"), credentials.get("api_key")
    by_user = bool(system.amqp_user) and user_id == system.amqp_user
    by_key = isinstance(key, str) and system.key_matches(key)
    if not (by_user or by_key):
        raise inbound.InboundRejected(
            "unauthenticated",
            f"the event names source {envelope['source']} without that system's credential",
        )
    return system


def receive_inbound_amqp(
    store: RequestStore,
    relay: FastPath,
    systems: ExternalSystems,
    body: Any,
    credentials: Any,
    pseudonym_key: str,
) -> Any:
    """One event from the inbound exchange: Recorded, or a refusal raised as an
    InvalidEvent (its dead letter's reason) or an InboundConflict (retried). ``body``:
    the message as delivered (an AmqpDelivery) or an event already decoded."""
    try:
        if isinstance(body, inbound_binding.AmqpDelivery):
            body = inbound_binding.from_amqp(body)
        system = authenticate_amqp(systems, inbound.parse_envelope(body), credentials)
        return receive_inbound(store, relay, system, body, pseudonym_key)
    except inbound.InboundRejected as exc:
        raise _refusal(exc) from None


def receive_inbound_amqp_many(
    store: RequestStore, relay: FastPath, systems: ExternalSystems, items: list, pseudonym_key: str
) -> dict[int, Exception]:
    """A batch from the inbound exchange: ``items`` are ``(body, credentials)``, each body
    the message as delivered (an inbound_binding.AmqpDelivery, read in either content
    mode) or an event already decoded.

    Every event that may be accepted is recorded as POST /v1/events records a batch
    (per system: the registry updates with one write and one confirmed publish, a
    repeat found by the insert). Returns ``{position: InvalidEvent}`` for the events
    refused (unreadable, unknown system, unauthenticated, invalid, not allowed):
    nothing is recorded for them, and each is dead-lettered alone with its reason.
    """
    refused: dict[int, Exception] = {}
    by_system: dict = {}
    for position, (body, credentials) in enumerate(items):
        try:
            if isinstance(body, inbound_binding.AmqpDelivery):
                body = inbound_binding.from_amqp(body)
            system = authenticate_amqp(systems, inbound.parse_envelope(body), credentials)
        except inbound.InboundRejected as exc:
            refused[position] = _refusal(exc)
            continue
        by_system.setdefault(system.id, (system, []))[1].append((position, body))
    for system, members in by_system.values():
        outcomes = receive_inbound_many(
            store, relay, system, [body for _, body in members], pseudonym_key
        )
        for (position, _), outcome in zip(members, outcomes, strict=True):
            if isinstance(outcome, inbound.InboundRejected):
                refused[position] = _refusal(outcome)
    return refused


class InboundConflict(Exception):
    """A concurrent write won (an agency's answer to the same referral): the event is
    not at fault, so on AMQP it is retried later, not dead-lettered (HTTP answers 409)."""


def _refusal(exc: inbound.InboundRejected) -> Exception:
    """An inbound refusal as the dead letter states it (code, reason, fields); a
    conflict is retried instead."""
    if exc.code in inbound.TRY_AGAIN:
        return InboundConflict(f"{exc.code}: {exc.reason}")
    if exc.known_later:
        return NotKnownYet(f"{exc.code}: {exc.reason}", exc.fields)
    return InvalidEvent(f"{exc.code}: {exc.reason}", exc.fields)
