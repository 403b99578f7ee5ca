"""Rebuild the projections from the event store: ``python -m services.reporting.rebuild``.

Replays every stored event (each id once; the batches holding it recorded in its facts,
as the live passes do) into a new projection version (``facts_v<N+1>``,
``daily_v<N+1>``): the facts are computed in memory and written once, with the
daily figures derived from them. Meanwhile the service goes on projecting live events into
the current version. Then, holding the projector lease (live projection pauses for
that moment), the events stored since the rebuild began are applied to the new
version too, and readers are switched to it with one write to the pointer document.
The version replaced is kept until the next rebuild completes, so it can be switched
back to.
"""

import argparse
import logging
import sys
import time
from collections.abc import Callable

from services.common import clock, config, logs, mongo
from services.reporting import domain, handlers
from services.reporting.domain import daily as domain_daily
from services.reporting.handlers.projector import Projector
from services.reporting.store import QUARANTINED, ReportStore

log = logging.getLogger("services.reporting.rebuild")

# Events stored up to this long before the rebuild began are applied once more at its
# end (projection is idempotent): covers clocks of other hosts running a little late.
CATCH_UP_MARGIN_MS = 60_000
PROGRESS_EVERY = 50_000  # events replayed between two progress lines


def rebuild(store, batch=5000, progress=None, projector=None):
    """Replay the event store into a new version and switch to it: ``(version, events)``.
    ``projector``: the process's own, when it also projects live events (else one of
    its own, which waits for the lease like any other instance)."""
    versions = store.versions()
    old = versions["current"]
    new = max(old, versions["building"] or 0) + 1
    store.drop_version(new)  # leftovers of a rebuild that did not finish
    started_ms = clock.now_ms()
    store.start_building(new, started_ms)
    facts: dict[str, dict] = {}
    seen: set[str] = set()  # event ids applied: a repeat kept again is applied once
    for records in store.all_events(batch):
        recovered = []
        for record in records:
            try:
                domain.fold(facts, record, rules=record["_id"] not in seen)
            except Exception as exc:  # noqa: BLE001 - a bug in a rule: left out, said
                log.error("event %s (%s) left out: %s", record["_id"], record["type"], exc)
                store.quarantine(record, f"{type(exc).__name__}: {exc}")
            else:
                if record.get("pending") == QUARANTINED:
                    recovered.append(record["_id"])  # the rules were fixed since
            seen.add(record["_id"])
        store.mark_projected(recovered)
        if progress:
            progress(len(seen))
    replayed = len(seen)
    store.write_version(new, facts.values(), domain_daily.dailies(facts.values()))
    projector = projector or Projector(store)
    projector.take_lease()
    try:
        for records in store.all_events(batch, stored_since_ms=started_ms - CATCH_UP_MARGIN_MS):
            handlers.project_isolating(store, new, records)
        store.switch_to(new)
    finally:
        projector.release_lease()
    for version in range(1, old):  # keep the version just replaced, drop older ones
        store.drop_version(version)
    return new, replayed


def progress_log(every: int = PROGRESS_EVERY) -> Callable[[int], None]:
    """A ``progress`` for rebuild: logs the count each time it passes a multiple of
    ``every`` (whatever the batch size: the counts need not land on one)."""
    logged = 0

    def progress(replayed: int) -> None:
        nonlocal logged
        if replayed // every > logged // every:
            log.info("%d events replayed", replayed)
            logged = replayed

    return progress


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=5000, help="events read at a time")
    args = parser.parse_args(argv)
    settings = config.settings()
    logs.configure(settings.log_level)
    store = ReportStore(mongo.database(settings, "reporting"))
    store.ensure_indexes()
    began = time.monotonic()
    version, replayed = rebuild(store, args.batch, progress_log())
    log.info(
        "projection version %d built from %d events in %.1f s; readers switched",
        version,
        replayed,
        time.monotonic() - began,
    )
    print(f"rebuilt projection version {version} from {replayed} events")
    return 0


if __name__ == "__main__":
    sys.exit(main())
