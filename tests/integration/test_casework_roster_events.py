"""The stations' rosters reach reporting as events (issue 14): loading the rosters
publishes station.roster_published for each station whose roster changed, through the
outbox, on the real broker; reporting (a nameko container) counts the social workers of
the district's table from them: the 41 people on the seeded rosters, never casework's
collections."""

import pytest

from services.casework import seed
from services.casework.rosters import load_roster
from services.casework.store import CaseStore
from services.common import messaging
from services.common.messaging import EventPublisher
from services.common.outbox import OutboxRelay
from services.reporting.handlers import reports
from services.reporting.service import ReportingService
from services.reporting.store import ReportStore
from tests.reporting_events import stored_events
from tests.support import wait_until


@pytest.fixture
def reporting(container_factory, settings, database):
    messaging.declare_topology(settings, [ReportingService])
    store = ReportStore(database("reporting"))
    container = container_factory(ReportingService, settings.nameko_config())
    container.start()
    return store


def social_workers(store, station=None):
    table = reports.summary(store, station)["table"]
    return next((row for row in table if row["figure"] == "social_workers"), None)


def test_loaded_rosters_are_published_once_and_counted_by_reporting(reporting, settings, database):
    cases = CaseStore(database("casework"))
    cases.ensure_indexes()
    relay = OutboxRelay(EventPublisher(settings.amqp_uri), {"rosters": cases.rosters}, 0)
    workers = seed.roster()
    assert load_roster(cases, workers, seed.calendar(), relay) == 10
    counted = wait_until(
        lambda: (row := social_workers(reporting)) and row["value"] == 41 and row,
        30,
        message="41 social workers counted from the rosters",
    )
    assert counted["label"] == "社工总数（各站在册，含站长）" and counted["unit"] == "人"
    assert social_workers(reporting, "daxing")["value"] == 6
    assert social_workers(reporting, "luji")["value"] == 1
    document = cases.published_roster("daxing")
    assert {"name", "phone"}.isdisjoint(document["staff"][0])  # no personal data leaves

    assert load_roster(cases, workers, seed.calendar(), relay) == 0  # unchanged: no event
    newcomer = {
        "id": "lj-02",
        "name": "钱多多",
        "phone": "13900001002",
        "station": "luji",
        "role": "worker",
        "duty_days": [1, 2, 3, 4, 5],
    }
    assert load_roster(cases, workers + [newcomer]) == 1  # as the seed CLI: no relay
    assert cases.published_roster("luji")["last_seq"] == 2
    assert relay.sweep() == 1  # the casework worker's relay publishes it
    wait_until(
        lambda: social_workers(reporting, "luji")["value"] == 2,
        30,
        message="luji's new roster counted",
    )
    assert social_workers(reporting)["value"] == 42
    kept = sum(
        e["type"] == "shegong.station.roster_published.v1"
        for e in stored_events(reporting).values()
    )
    assert kept == 11
