"""Who sweeps an outbox collection now: a short lease in the service's own database,
and the sweep of stale documents it guards.

Each instance of a worker runs the relay's sweep (outbox.py). Looking costs one indexed
read; when stale documents are found, only the instance holding the collection's lease
reads and publishes them, so two instances never sweep the same outbox at once (each
would publish the same events and write the same marks). The lease is taken only when
there is something stale to publish: after a crash or a broker outage, not in the usual
course. It is released once the sweep's marks are written; a holder killed meanwhile
leaves it to expire after ``ttl_ms``, and another instance sweeps then.
"""

import logging

from pymongo.errors import DuplicateKeyError

from services.common import clock

log = logging.getLogger(__name__)

COLLECTION = "outbox_sweeps"  # one document per outbox collection: {_id, owner, until_ms}


def take(database, name, owner, now_ms, ttl_ms) -> bool:
    """True if ``owner`` holds the sweep lease of collection ``name`` until now + ttl."""
    leases = database[COLLECTION]
    until = now_ms + ttl_ms
    for condition in ({"until_ms": {"$lt": now_ms}}, {"owner": owner}):
        taken = leases.update_one(
            {"_id": name, **condition}, {"$set": {"owner": owner, "until_ms": until}}
        )
        if taken.matched_count:
            return True
    try:  # the first sweep of this collection ever
        leases.insert_one({"_id": name, "owner": owner, "until_ms": until})
        return True
    except DuplicateKeyError:  # another instance sweeps it now
        return False


def release(database, name, owner) -> None:
    database[COLLECTION].update_one({"_id": name, "owner": owner}, {"$set": {"until_ms": 0}})


def publish_stale(relay, name, collection, cutoff, limit):
    """The relay's sweep of one collection whose oldest pending document is stale: its
    stale documents published under the collection's lease. Returns (events published,
    False if the broker refused: the next sweep retries)."""
    database = collection.database
    if not take(database, name, relay.owner, clock.now_ms(), relay.lease_ms):
        return 0, True  # another instance sweeps it now
    try:
        stale = list(
            collection.find(
                {"outbox_pending": True, "updated_ms": {"$lt": cutoff}},
                sort=[("updated_ms", 1)],
                limit=limit,
            )
        )
        if not stale:
            return 0, True
        try:
            return relay.publish_batch([(collection, document) for document in stale]), True
        except Exception as exc:  # noqa: BLE001 - broker down: try again next sweep
            log.warning(
                "outbox relay stopped at %s (%d pending): %s; next sweep retries",
                name,
                len(stale),
                type(exc).__name__,
            )
            return 0, False
    finally:
        release(database, name, relay.owner)
