"""notifications' service layer for batches of events (the batch entrypoints of
service.py) and of messages.

For a batch: the residents' contacts it carries are remembered in one bulk write; the
contacts its messages need are read in one query; every message the rules ask for is
recorded in one insert (each once: its id is event:recipient:template, so a repeated
event finds its message); then they go through the delivery state machine of
handlers/__init__.py together (``deliver_many``): their holds and claims in one write,
the providers called side by side, their outcomes in one write; and the status events
of the whole batch are published together, their confirms awaited once. The sweep
(``deliver_due``) sends what has come due the same way.

An event whose messages cannot be decided or sent now (a resident's contact not yet
known, the store away) is returned with its exception, to be retried alone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, cast

from eventlet.greenpool import GreenPool

from services.common import clock
from services.common.config import Settings
from services.common.outbox import FastPath
from services.notifications import handlers
from services.notifications.domain import delivery as domain_delivery
from services.notifications.domain import sending as domain_sending
from services.notifications.handlers import outcomes as handlers_outcomes
from services.notifications.store import NotificationStore

log = logging.getLogger(__name__)

SENDERS = 8  # messages of a batch in flight at once (different numbers)


class _BatchStore:
    """The store as the batch sees it: contacts read once for the whole batch."""

    def __init__(self, store: NotificationStore, contacts: dict) -> None:
        self._store, self._contacts = store, contacts

    def contact(self, request_id: str) -> dict | None:
        found = self._contacts.get(request_id)
        return found if found is not None else self._store.contact(request_id)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def remember_contacts(store: NotificationStore, items: list) -> None:
    """The residents' contacts of a batch of request.received, in one bulk write."""
    store.remember_contacts(
        [
            (
                request["request_id"],
                request["station"],
                request["resident"]["name"],
                request["resident"]["phone"],
                request["resident"].get("emergency_contact"),
            )
            for _, _, request in items
        ]
    )


def notify_many(
    store: NotificationStore, relay: FastPath, sender: Any, settings: Settings, items: list
) -> dict:
    """Record every message the rules ask for the events of a batch ``[(position,
    envelope, data)]``, each once, and send those due (the one path: ``handlers.notify``
    is this of one); returns ``{position: exception}`` for the events to retry alone."""
    failures: dict = {}
    view = _BatchStore(
        store,
        store.contacts_of({data["request_id"] for _, _, data in items if data.get("request_id")}),
    )
    planned = []  # (position, intent)
    for position, envelope, data in items:
        try:
            planned += [
                (position, intent) for intent in handlers.intents(view, settings, envelope, data)
            ]
        except Exception as exc:  # noqa: BLE001 - retried alone (RecipientUnknown among them)
            failures[position] = exc
    if not planned:
        return failures
    intents = [intent for position, intent in planned if position not in failures]
    positions = [position for position, _ in planned if position not in failures]
    # (a failed event's messages are sent when it is retried alone)
    for index, error in deliver_many(
        store, relay, sender, settings, intents, recorded=False
    ).items():
        failures[positions[index]] = error
    return failures


@dataclass
class Step:
    """The first write a due message of a batch gets: held (quiet hours, a rate limit)
    or claimed for sending (``in_doubt_since``: an earlier claim's, whose send may have
    happened)."""

    index: int
    message: dict
    changes: dict
    claims: bool
    in_doubt_since: str | None = None


@dataclass
class Claimed:
    """A message of the batch claimed for sending (its claim written)."""

    index: int
    message: dict
    in_doubt_since: str | None


@dataclass
class Recorded:
    """What sending a claimed message gave: the outcome (decided again on a newer
    version should this write lose) and the change decided on the claimed one."""

    message: dict
    outcome: handlers_outcomes.Outcome
    change: handlers.Change


def deliver_many(
    store: NotificationStore,
    relay: FastPath,
    sender: Any,
    settings: Settings,
    messages: list[dict],
    recorded: bool = True,
) -> dict:
    """Send the due ones of ``messages`` (the one delivery path, for one message too):
    wait out quiet hours and rate limits, claim, try the providers, record
    the outcome (sent, retry later, failed, technical_failure), in a constant number of
    store commands: the recent SMS of each number read once (rate limits), every hold
    and claim in one write, the providers called side by side (one number's messages in
    order), every outcome with its status event in one write. The decisions are
    domain_sending's. A write that lost to a concurrent one (a receipt, another worker)
    is redone alone on the newest version (a claim another worker took first is left to
    it). Returns ``{index: exception}`` for messages that could not be sent (their
    claim's lease makes them due again for the sweep).

    ``recorded=False``: ``messages`` are new intents, not stored yet. Each is inserted
    with its first step (held or claimed) already applied, so a new message costs one
    write less (issue 24): the insert is still the intent recorded before any provider
    is called, and the claim a duplicate id cannot take twice. The intents found stored
    already (a repeated event's) take the usual path from their stored version."""
    policy, now = settings.notifications, clock.now()
    now_ms, at = clock.to_ms(now), clock.iso(now)
    recent: dict = {}  # (phone_ref, template or None) -> sent_ms of the hour, newest first
    steps: list[Step] = []
    seen = set()
    for index, message in enumerate(messages):
        if message["_id"] in seen or not handlers.is_due(message, now_ms):
            continue  # (a message twice in the batch, a repeated event's: sent once)
        seen.add(message["_id"])
        limit, key = domain_delivery.sms_limit(message, policy), None
        if limit is not None:
            key = (message["phone_ref"], message["template"] if limit.per_kind else None)
            if key not in recent:
                recent[key] = store.sent_to(
                    key[0], now_ms - domain_delivery.HOUR_MS, limit.per_hour, key[1]
                )
        hold = domain_delivery.hold(message, now, recent.get(key, []), policy)
        if hold is not None:
            reason, until_ms = hold
            handlers.report_held(message, reason, until_ms)
            steps.append(
                Step(
                    index,
                    message,
                    domain_sending.held(
                        message, reason, at, clock.iso(clock.from_ms(until_ms)), until_ms
                    ),
                    False,
                )
            )
            continue
        steps.append(
            Step(
                index,
                message,
                domain_sending.claim(message, now_ms, at, policy.lease_s),
                True,
                domain_sending.claim_in_doubt(message),
            )
        )
        if key is not None:  # what this batch sends counts against the next (conservative)
            recent[key] = [now_ms] + recent[key]
    failures_of_existing: dict = {}
    if recorded:
        written = store.update_all([(step.message, step.changes, (), ()) for step in steps])
    else:
        written, existing = _record_with_first_steps(store, messages, steps)
        if existing:  # a repeated event's messages: from their stored version
            redo = deliver_many(store, relay, sender, settings, [m for _, m in existing])
            failures_of_existing = {existing[i][0]: error for i, error in redo.items()}
    claimed = [
        Claimed(step.index, document, step.in_doubt_since)
        for step, document in zip(steps, written, strict=True)
        if step.claims and document is not None
    ]
    failures: dict = {}
    results = _send_side_by_side(sender, claimed, failures)
    changed = []
    for claim in claimed:
        if claim.index in results:
            decided = handlers_outcomes.outcome(claim.message, results[claim.index], policy)
            change = decided(claim.message)
            if change is not None:
                changed.append(Recorded(claim.message, decided, change))
    outcomes = store.update_all(
        [(r.message, r.change.fields, r.change.events, r.change.unset) for r in changed]
    )
    published = []
    for r, document in zip(changed, outcomes, strict=True):
        staged = bool(r.change.events)
        if document is None:  # changed meanwhile: on the newest version, alone
            newest = cast(dict, store.get(r.message["_id"]))  # (messages are never removed)
            document, staged = handlers.write_change(store, newest, r.outcome)
        if staged:
            published.append(document)
    relay.publish_now_many("messages", published)  # the batch's events together
    failures.update(failures_of_existing)
    return failures


def _record_with_first_steps(store, intents: list, steps: list) -> tuple[list, list]:
    """Insert new ``intents`` with their first step applied (one insert for all):
    ``(written, existing)``, ``written`` per step the stored document (None where the
    intent existed already), ``existing`` the ``(index, stored message)`` of intents
    that did (left for the usual path)."""
    first = {step.index: step for step in steps}
    documents = [
        {**intent, **first[index].changes} if index in first else intent
        for index, intent in enumerate(intents)
    ]
    stored, inserted = store.record_new_intents(documents)
    mine = {index for index, new in enumerate(inserted) if new}
    written = [stored[step.index] if step.index in mine else None for step in steps]
    # (a message twice in the batch was inserted once: its copy is not sent again)
    ids_inserted = {stored[index]["_id"] for index in mine}
    existing = [
        (index, found)
        for index, found in enumerate(stored)
        if index not in mine and found["_id"] not in ids_inserted
    ]
    return written, existing


def deliver_due(
    store: NotificationStore, relay: FastPath, sender: Any, settings: Settings, limit: int = 50
) -> int:
    """The sweep: send what is due (deferred, to retry, or left in flight by a dead
    process) as one batch, and erase the numbers of sent messages that waited long enough
    for their receipt. Returns how many messages were due."""
    store.forget_numbers(clock.to_ms(clock.now()))
    due = store.due(clock.to_ms(clock.now()), limit)
    deliver_many(store, relay, sender, settings, due)  # what fails is due again later
    return len(due)


def _send_side_by_side(sender, claimed: list, failures: dict) -> dict:
    """Each claimed message's provider result ``{index: Sent | failure}``; one number's
    messages one after another, different numbers side by side (their answers are waited
    for together). An unexpected error goes to ``failures``."""
    lanes: dict = {}
    for claim in claimed:
        lanes.setdefault(claim.message.get("phone_ref") or claim.message["_id"], []).append(claim)
    results: dict = {}

    def run(lane):
        for claim in lane:
            try:
                results[claim.index] = handlers_outcomes.send(
                    sender, claim.message, claim.in_doubt_since
                )
            except Exception as exc:  # noqa: BLE001 - retried; the lease makes it due again
                log.warning(
                    "message %s of a batch not sent: %s", claim.message["_id"], type(exc).__name__
                )
                failures[claim.index] = exc

    pool = GreenPool(SENDERS)
    for lane in lanes.values():
        pool.spawn_n(run, lane)
    pool.waitall()
    return results
