"""The four HTTP APIs served over real HTTP on one test's store and broker, with a little
data of the Daxing station in each, and the routes enumerated from their route tables.

Shared by the security and bad-input suites: whatever route a service adds is covered
without touching them.
"""

import importlib
import json
import re
import threading
import uuid
from dataclasses import dataclass

import pytest
import requests
from kombu import Connection, Queue
from marshmallow import fields, validate
from werkzeug.serving import make_server

from services.common import auth, clock, token_keys
from services.common.config import SERVICES
from services.common.contracts import CASE_ASSIGNED, REQUEST_RECEIVED
from services.common.envelope import load_event, new_event
from services.common.messaging import event_exchange
from tests.fakes.relay import RecordingRelay
from tests.support import (
    add_case,
    find_messages,
    free_port,
    register_resident,
    story_request,
)

STATION, OTHER_STATION = "daxing", "xiaxiang"
# routes anyone may call: no data, or authenticated by their own credential
PUBLIC = {
    "/healthz",
    "/readyz",
    "/v1/openapi.json",
    "/v1/events",
    "/v1/receipts/<provider>",
    # Prometheus text (no personal data; SHEGONG_METRICS_TOKEN closes it), and the
    # dashboard's page and assets (it asks for a token before it loads any figure)
    "/metrics",
    "/dashboard",
    "/dashboard/assets/<name>",
}
# a value of a request field that names a record of the Daxing station's
FIELD_VALUES = {
    "station": STATION,
    "worker_id": "dx-03",
    "kind": "money",
    "amount_fen": 100,
    "household_ref": "hh-1",
    "phone": "13900000199",
}


@dataclass
class Endpoint:
    service: str
    method: str
    rule: str
    route: object

    @property
    def writes(self):
        return self.method in ("POST", "PUT", "PATCH", "DELETE")

    def __str__(self):
        return f"{self.service} {self.method} {self.rule}"


def endpoints(apps, public=False):
    """Every (service, method, route) of the given apps, public ones only if asked."""
    found = []
    for service, app in apps.items():
        for route in app.routes:
            if route.public and not public:
                continue
            for method in route.methods:
                found.append(Endpoint(service, method, route.path, route))
    return found


def minimal_body(schema_cls, overrides=None):
    """The smallest body a route's schema accepts: required fields only, each the first
    choice it allows (or a value of FIELD_VALUES)."""
    values = {**FIELD_VALUES, **(overrides or {})}
    body = {}
    for name, field in schema_cls().fields.items():
        if not field.required and name not in values:
            continue
        body[field.data_key or name] = values[name] if name in values else _value(field)
    return body


def _value(field):
    for check in field.validators:
        if isinstance(check, validate.OneOf):
            return sorted(check.choices)[0]
    if isinstance(field, fields.Nested):
        return minimal_body(type(field.schema))
    if isinstance(field, fields.Boolean):
        return True
    if isinstance(field, fields.Date):
        return "2023-05-29"
    if isinstance(field, (fields.Integer, fields.Float)):
        return 1
    if isinstance(field, fields.List):
        return [_value(field.inner)]
    return "测试"


class Apis:
    """The served APIs, Daxing's records in them, and tokens of several callers."""

    def __init__(self, settings, database, sms_file):
        self.settings = settings
        self.apps = {
            name: importlib.import_module(f"services.{name}.api").create_app(settings)
            for name in SERVICES
        }
        self.servers, self.base = [], {}
        for name, app in self.apps.items():
            server = make_server("127.0.0.1", free_port(), app, threaded=True)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            self.servers.append(server)
            self.base[name] = f"http://127.0.0.1:{server.server_port}"
        keys = token_keys.keyring(settings)
        self.tokens = {
            "admin": auth.issue_token(keys, "district-admin", "district_admin"),
            "head": auth.issue_token(keys, "dx-02", "station_head", STATION, "陈静"),
            "worker": auth.issue_token(keys, "dx-01", "worker", STATION, "王晨光"),
            "colleague": auth.issue_token(keys, "dx-03", "worker", STATION, "刘洋"),
            "operator": auth.issue_token(keys, "dx-op", "operator", STATION),
            "other_worker": auth.issue_token(keys, "xx-02", "worker", OTHER_STATION, "郑芳"),
            "other_head": auth.issue_token(keys, "xx-01", "station_head", OTHER_STATION, "吴军"),
        }
        self.ids = self._seed(database, sms_file)

    def close(self):
        for server in self.servers:
            server.shutdown()

    def url(self, endpoint, **values):
        """The endpoint's URL with its path values: Daxing's records, unless given."""
        values = {**self.ids, **values}
        path = re.sub(
            r"<(?:[^:>]+:)?([^>]+)>", lambda m: values.get(m.group(1), "no-such-id"), endpoint.rule
        )
        return self.base[endpoint.service] + path

    def query(self, endpoint):
        """Query values that point the route at Daxing, where it takes them."""
        schema = endpoint.route.query
        if schema is None:
            return {}
        # what the route requires (e.g. a metric), nothing more
        values = {
            field.data_key or name: _value(field)
            for name, field in schema().fields.items()
            if field.required
        }
        if "station" in schema().fields:
            values["station"] = STATION
        return values

    def body(self, endpoint):
        if endpoint.route.body is None:
            return {} if endpoint.writes else None
        if endpoint.rule == "/v1/requests":
            return story_request(station=STATION)
        return minimal_body(endpoint.route.body)

    def call(self, endpoint, who=None, headers=None, **kwargs):
        given = dict(headers or {})
        if who:
            given["Authorization"] = f"Bearer {self.tokens.get(who, who)}"
        kwargs.setdefault("params", self.query(endpoint))
        if endpoint.writes and "data" not in kwargs:
            kwargs.setdefault("json", self.body(endpoint))
        return requests.request(
            endpoint.method, self.url(endpoint), headers=given, timeout=20, **kwargs
        )

    def _seed(self, database, sms_file):
        from services.casework import handlers as casework_handlers
        from services.casework import seed
        from services.casework.domain import opening as domain_opening
        from services.casework.domain import roster as domain_roster
        from services.casework.store import CaseStore
        from services.notifications import handlers as notification_handlers
        from services.notifications.providers import DevFileProvider
        from services.notifications.store import NotificationStore
        from services.reporting.store import ReportStore
        from tests.reporting_events import keep, projector_of

        cases = CaseStore(database("casework"))
        cases.ensure_indexes()
        cases.seed_roster(seed.roster(), seed.calendar())
        request = {
            "request_id": "r-sec-1",
            "channel": "phone",
            "station": STATION,
            "resident": {
                "name": "邹书兰",
                "phone": "13812345678",
                "categories": ["elderly", "living_alone"],
            },
            "resident_ref": "p_sec_1",
            "need": {"type": "medicine_purchase", "description": "药"},
            "received_at": "2023-05-29T08:00:00+08:00",
        }
        workers = [
            domain_roster.Worker(**{**w.__dict__, "duty_days": tuple(range(1, 8))})
            for w in cases.roster(STATION)
            if w.id in ("dx-01", "dx-02")
        ]
        case, events = domain_opening.open_case(
            f"case-sec-{uuid.uuid4().hex[:8]}", request, workers, {}, clock.now()
        )
        register_resident(cases, request, clock.now())
        add_case(cases, case, casework_handlers.to_envelopes(case, events, None, "e-sec-0"))

        notifications = NotificationStore(database("notifications"))
        notifications.ensure_indexes()
        assigned = new_event(
            CASE_ASSIGNED,
            {
                "case_id": case.case_id,
                "request_id": "r-sec-1",
                "station": STATION,
                "status": "assigned",
                "priority": "urgent",
                "need_type": "medicine_purchase",
                "assignee": {"id": "dx-01", "name": "王晨光", "phone": "13900000101"},
                "resident": {"name": "邹**", "phone": "138****5678"},
                "assigned_at": "2023-05-29T08:00:01+08:00",
            },
            subject=case.case_id,
            correlation_id="r-sec-1",
            sequence=2,
        )
        notification_handlers.notify(
            notifications,
            RecordingRelay(),
            DevFileProvider(sms_file),
            self.settings,
            assigned,
            assigned["data"],
        )
        [message] = find_messages(notifications, {"case_id": case.case_id}, 10)

        admin = {"Authorization": f"Bearer {self.tokens['admin']}"}
        accepted = requests.post(
            self.base["intake"] + "/v1/requests", json=story_request(), headers=admin, timeout=20
        )
        assert accepted.status_code == 202, accepted.text
        # reporting has heard of the request, so that its trace is a Daxing record
        reports = ReportStore(database("reporting"))
        reports.ensure_indexes()
        received = new_event(
            REQUEST_RECEIVED,
            {**request, "request_id": accepted.json()["request_id"]},
            subject=accepted.json()["request_id"],
            correlation_id=accepted.json()["request_id"],
        )
        keep(projector_of(reports), *load_event(received, REQUEST_RECEIVED))
        team = requests.post(
            self.base["casework"] + f"/v1/stations/{STATION}/volunteer-teams",
            json={"name": "大兴助老志愿队"},
            headers=admin,
            timeout=20,
        )
        assert team.status_code == 201, team.text
        return {
            "station": STATION,
            "case_id": case.case_id,
            "message_id": message["_id"],
            "request_id": accepted.json()["request_id"],
            "team_id": team.json()["record_id"],
            "provider": "http",
            "resident_ref": "p_sec_1",
            "record_id": team.json()["record_id"],
        }

    def daxing_markers(self):
        """Strings that only an answer carrying Daxing's records contains."""
        return [
            f'"{STATION}"',
            *(value for key, value in self.ids.items() if key not in ("station", "provider")),
        ]


class EventTap:
    """A queue bound to every event one service publishes: what reached the broker."""

    def __init__(self, amqp_uri, producer):
        self.amqp_uri = amqp_uri
        self.queue = Queue(
            f"test-tap-{producer}-{uuid.uuid4().hex[:6]}",
            exchange=event_exchange(producer),
            routing_key="#",
            durable=False,
            auto_delete=False,
        )
        with Connection(amqp_uri) as connection:
            self.queue.bind(connection.default_channel).declare()

    def drain(self, ignore=()):
        """The message ids that arrived (those in ``ignore`` left out)."""
        found = []
        with Connection(self.amqp_uri) as connection:
            while message := self.queue.bind(connection.default_channel).get(no_ack=True):
                if message.properties.get("message_id") not in ignore:
                    found.append(message.properties.get("message_id"))
        return found


@pytest.fixture
def apis_with(env, monkeypatch, database, topology, tmp_path):
    """A factory: the four APIs served with the environment as set when it is called
    (import this fixture into a test module to use it)."""
    from services.common import config

    monkeypatch.setenv("SHEGONG_TOKEN_REVOCATIONS_FILE", str(tmp_path / "revoked.json"))
    monkeypatch.setenv("SHEGONG_VAR_DIR", str(tmp_path))
    served = []

    def serve():
        served.append(Apis(config.settings(), database, tmp_path / "sms.jsonl"))
        return served[-1]

    yield serve
    for apis in served:
        apis.close()


def settled_snapshot(settings, service, timeout_s=10.0):
    """The snapshot once the store is still: the outbox's progress marks are written a
    moment after the call that published (services/common/group_commit.py)."""
    import time

    deadline = time.monotonic() + timeout_s
    last = snapshot(settings, service)
    while True:
        time.sleep(0.3)
        current = snapshot(settings, service)
        if current == last or time.monotonic() > deadline:
            return current
        last = current


def snapshot(settings, service):
    """Every document of a service's database, to compare before and after a call."""
    import pymongo

    client = pymongo.MongoClient(settings.mongo_uri)
    try:
        database = client[settings.database_name(service)]
        return {
            name: sorted(
                (json.dumps(doc, sort_keys=True, default=str) for doc in database[name].find({}))
            )
            for name in sorted(database.list_collection_names())
        }
    finally:
        client.close()
