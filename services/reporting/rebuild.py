"""Rebuild the projections from the event store: ``python -m services.reporting.rebuild``.

Replays every stored event into a new projection version (``facts_v<N+1>``,
``daily_v<N+1>``) while the service goes on projecting live events into both the
current and the new version; when the replay is complete, readers are switched to
the new version with one write to the pointer document. The version readers used
until then is kept (a later rebuild removes it), so a bad rebuild can be switched back.
"""
import argparse
import logging
import sys
import time

from services.common import config, logs, mongo
from services.reporting import handlers
from services.reporting.store import ReportStore

log = logging.getLogger("services.reporting.rebuild")

# Events stored this long before the rebuild began are replayed once more at its end:
# a live batch that read the pointer just before ``building`` was set has then been
# projected into the new version too (projection is idempotent).
CATCH_UP_MARGIN_MS = 60_000


def rebuild(store, batch=5000, progress=None):
    """Replay the event store into a new version and switch to it; returns its number."""
    versions = store.versions()
    old = versions["current"]
    new = max(old, versions["building"] or 0) + 1
    store.drop_version(new)  # leftovers of a rebuild that did not finish
    started_ms = int(time.time() * 1000)
    store.start_building(new, started_ms)
    replayed = 0
    for records in store.all_events(batch):
        handlers.project(store, new, records)
        replayed += len(records)
        if progress:
            progress(replayed)
    for records in store.all_events(batch, stored_since_ms=started_ms - CATCH_UP_MARGIN_MS):
        handlers.project(store, new, records)
    store.switch_to(new)
    for version in range(1, old):  # keep the version just replaced, drop older ones
        store.drop_version(version)
    return new, replayed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=5000, help="events per bulk write")
    args = parser.parse_args(argv)
    settings = config.settings()
    logs.configure(settings.log_level)
    store = ReportStore(mongo.database(settings, "reporting"))
    store.ensure_indexes()
    began = time.monotonic()
    version, replayed = rebuild(store, args.batch,
                                lambda n: n % 50_000 == 0 and log.info("%d events replayed", n))
    log.info("projection version %d built from %d events in %.1f s; readers switched",
             version, replayed, time.monotonic() - began)
    print(f"rebuilt projection version {version} from {replayed} events")
    return 0


if __name__ == "__main__":
    sys.exit(main())
