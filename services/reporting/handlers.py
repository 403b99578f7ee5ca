"""The reporting service layer: project events; compute figures from the facts."""
from services.reporting import domain


def project(store, envelope, data):
    projected = domain.facts(envelope["type"], data)
    if projected is not None:
        store.apply(*projected)


def summary(store, station=None, date_from=None, date_to=None):
    period = (station, date_from, date_to)
    return domain.summary(
        requests=store.rows("requests", "received_day", *period),
        opened=store.rows("cases", "opened_day", *period),
        accepted=store.rows("cases", "accepted_day", *period),
        resolved=store.rows("cases", "resolved_day", *period),
        messages=store.rows("messages", "sent_day", *period))
