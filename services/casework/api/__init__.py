"""The casework HTTP API (gunicorn): cases (cases.py) and the rest of their life
(lifecycle.py), station programs (programs.py), rosters and the access log (access.py),
residents (residents.py), referrals (referrals.py), the CSV export (export.py).

``gunicorn 'services.casework.api:create_app()'``
"""

from dataclasses import dataclass

from services.casework.api import access, cases, export, lifecycle, programs, referrals, residents
from services.casework.domain.roster import calendar_warning
from services.casework.store import OUTBOX_COLLECTIONS, CaseStore
from services.common import clock, config, mongo
from services.common.http import Api
from services.common.outbox import OutboxRelay, relay_for


@dataclass
class Context:
    store: CaseStore
    relay: OutboxRelay
    settings: config.Settings


def create_app(settings=None):
    """The casework WSGI app on ``settings``. gunicorn calls it with none: this is the API
    process's entry point, where the environment is read (once); a test passes its own."""
    if settings is None:
        settings = config.settings()
    database = mongo.database(settings, "casework")
    store = CaseStore(database)
    relay = relay_for(settings, "casework", OUTBOX_COLLECTIONS)
    api = Api(
        "casework",
        settings,
        export.routes
        + cases.routes
        + lifecycle.routes
        + programs.routes
        + access.routes
        + residents.routes
        + referrals.routes,
        Context(store, relay, settings),
    )
    api.warning_checks["holiday_calendar"] = lambda: calendar_warning(
        store.calendar(), clock.local_day(clock.now()), settings.holiday_warning_days
    )
    return api
