"""The history's clock: the services' code reads ``services.common.clock.now()`` for
every time it stores (``updated_ms``, ``created_at``, an envelope's ``time``); while a
history is built it says the moment being written, so the documents carry the
history's dates, not the build's."""

import contextlib
from datetime import timedelta

from services.common import clock


class HistoryClock:
    def __init__(self, moment):
        self.moment = moment

    def at(self, moment):
        self.moment = moment
        return moment

    def after(self, **delta):
        return self.at(self.moment + timedelta(**delta))


@contextlib.contextmanager
def frozen(start):
    """``clock.now`` says ``HistoryClock.moment`` inside the block (restored after)."""
    history = HistoryClock(start)
    real = clock.now
    clock.now = lambda: history.moment
    try:
        yield history
    finally:
        clock.now = real


def published(document):
    """An outbox document as it is once its events are published and the relay's mark
    written (services/common/outbox.py: ``OutboxRelay._mark``)."""
    return {
        **document,
        "outbox": [],
        "outbox_pending": False,
        "published_seq": document.get("last_seq", 0),
    }
