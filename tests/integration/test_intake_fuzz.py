"""Fuzzing: the intake HTTP API from its own OpenAPI document (schemathesis, over real
HTTP) and the inbound AMQP payloads (hypothesis). No 5xx, no crash, no partial write:
every stored request is whole and was published, every refused input left nothing."""

import json
import threading
import uuid

import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from kombu import Connection
from schemathesis import GenerationMode
from werkzeug.serving import make_server

from services.common import auth
from services.common.contracts import REQUEST_RECEIVED
from services.common.envelope import InvalidEvent
from services.common.messaging import EventPublisher, entrypoint_queue
from services.common.outbox import OutboxRelay
from services.intake import api as intake_api
from services.intake.handlers import inbound as handlers_inbound
from services.intake.service import IntakeService
from services.intake.store import RequestStore
from services.intake.systems import DEFAULT_FILE, ExternalSystems
from tests.inbound_support import (
    Observer,
    checkin_missed,
    dead_letters,
    key_person_update,
    petition,
    publish_inbound,
    referral,
)
from tests.support import free_port, wait_until

FUZZ = dict(deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
CASEWORK_QUEUE = entrypoint_queue(REQUEST_RECEIVED, "casework", "request_received").name


@pytest.fixture
def served_intake(settings, topology, database):
    """The intake API over real HTTP on a free port."""
    database("intake")
    server = make_server("127.0.0.1", free_port(), intake_api.create_app(settings), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def queued(settings, queue_name=CASEWORK_QUEUE):
    with Connection(settings.amqp_uri) as connection:
        return connection.default_channel.queue_declare(queue_name, passive=True).message_count


def assert_every_stored_request_is_whole_and_published(settings, requests_collection):
    # (events fuzzed with the civil affairs key may become referrals: also requests)
    documents = list(requests_collection.find({}))
    for document in documents:
        assert document["last_seq"] == 1 and document["status"] in ("received",)
        assert document["need_type"] and document["resident"]["phone"]
    wait_until(
        lambda: queued(settings) == len(documents),
        20,
        message="one request.received per stored request",
    )


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_the_http_api_fuzzed_from_its_openapi_document(served_intake, settings, database, mode):
    token = auth.issue_token(settings.token_secret, "district-admin", "district_admin")
    schema = schemathesis.openapi.from_url(served_intake + "/v1/openapi.json")
    answered, events_answers = [], set()
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy(generation_mode=mode))
        @hypothesis_settings(max_examples=25, **FUZZ)
        def fuzz(case):
            response = case.call(
                base_url=served_intake,
                headers={"Authorization": f"Bearer {token}", "X-Api-Key": "dev-civil-affairs-key"},
            )
            answered.append((case.method, case.path))
            if case.path == "/v1/events":
                events_answers.add(response.status_code)
            assert response.status_code < 500, (case.path, case.body, response.text)
            if case.path == "/metrics":  # Prometheus' text format, by design
                assert response.text.startswith("# HELP"), response.text[:200]
            else:
                json.loads(response.text)  # every other answer, errors included, is JSON

        try:
            fuzz()
        except Unsatisfiable:  # no input to make invalid (e.g. GET /healthz)
            assert mode is GenerationMode.NEGATIVE
    assert {
        ("POST", "/v1/requests"),
        ("GET", "/v1/requests/{request_id}"),
        ("POST", "/v1/events"),
    } <= set(answered)
    assert events_answers - {401}, "the system's key got no event past authentication"
    assert_every_stored_request_is_whole_and_published(settings, database("intake")["requests"])


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.just({"$gt": ""})
    | st.just("13812345678"),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
VALID = [referral, checkin_missed, petition, key_person_update]
SYSTEM_OF = {
    "/suyu/civil-affairs": "civil-affairs",
    "/suyu/elderly-care": "elderly-care",
    "/suyu/petition-office": "petition-office",
}


@st.composite
def inbound_payloads(draw):
    """Valid events, and valid events with a field (top-level or in data) made junk."""
    event = draw(st.sampled_from(VALID))()
    event["id"] = str(uuid.uuid4())
    where = draw(st.sampled_from(["none", "top", "data", "resident", "whole"]))
    if where == "whole":
        return draw(JSON)
    target = {
        "none": None,
        "top": event,
        "data": event["data"],
        "resident": event["data"].get("resident") or event["data"].get("person"),
    }[where]
    if target is not None:
        key = draw(st.sampled_from(sorted(target)) | st.text(max_size=8))
        target[key] = draw(JSON)
    return event


@pytest.fixture
def store(database, topology, settings):
    Observer(settings.amqp_uri)  # registry updates need a bound queue until casework has one
    store = RequestStore(database("intake"))
    store.ensure_indexes()
    return store


def test_inbound_payloads_fuzzed_are_recorded_whole_or_refused_whole(store, settings):
    relay = OutboxRelay(
        EventPublisher(settings.amqp_uri),
        {"requests": store.requests, "registry_updates": store.registry_updates},
    )
    systems = ExternalSystems.from_json(DEFAULT_FILE.read_text(encoding="utf-8"))
    counts = {"accepted": 0, "refused": 0}

    def stored():
        return store.requests.count_documents({}) + store.registry_updates.count_documents({})

    @given(payload=inbound_payloads())
    @hypothesis_settings(max_examples=60, **FUZZ)
    def fuzz(payload):
        before = stored()
        source = payload.get("source") if isinstance(payload, dict) else None
        source = source if isinstance(source, str) else None  # an injected operator: no system
        key = {
            "civil-affairs": "dev-civil-affairs-key",
            "elderly-care": "dev-elderly-care-key",
            "petition-office": "dev-petition-office-key",
        }.get(SYSTEM_OF.get(source))
        try:
            recorded = handlers_inbound.receive_inbound_amqp(
                store, relay, systems, payload, {"api_key": key}, "fuzz-key"
            )
        except InvalidEvent as exc:
            assert exc.reason and stored() == before
            counts["refused"] += 1
            return
        assert stored() == before + (0 if recorded.replayed else 1)
        collection = store.requests if "need_type" in recorded.document else store.registry_updates
        # whole, and published at once (the progress mark follows within a moment)
        kept = wait_until(
            lambda: collection.find_one({"_id": recorded.document["_id"], "published_seq": 1}),
            5,
            message="the progress mark",
        )
        assert kept["last_seq"] == 1
        counts["accepted"] += 1

    fuzz()
    assert counts["accepted"] and counts["refused"]


def test_fuzzed_payloads_on_the_exchange_end_as_events_or_dead_letters(
    container_factory, settings, topology, database
):
    database("intake")
    observer = Observer(settings.amqp_uri)
    container = container_factory(IntakeService, settings.nameko_config())
    container.start()
    sent = []

    @given(payload=inbound_payloads())
    @hypothesis_settings(max_examples=15, **FUZZ)
    def publish(payload):
        source = payload.get("source") if isinstance(payload, dict) else None
        source = source if isinstance(source, str) else None  # an injected operator: no system
        publish_inbound(
            settings.amqp_uri,
            payload,
            system=SYSTEM_OF.get(source, "civil-affairs"),
            routing_key="fuzz",
        )
        sent.append(payload)

    publish()
    parked = []

    def settled():
        observer.drain()
        parked.extend(dead_letters(settings.amqp_uri))
        return len(observer.seen) + len(parked) == len(sent)

    # derandomized examples: no two valid ones share an id, so none is a silent duplicate
    wait_until(settled, 60, message="every fuzzed event published on or dead-lettered")
    assert all(headers["x-death-reason"] for headers, _ in parked)
    good = referral()
    publish_inbound(settings.amqp_uri, good, system="civil-affairs")
    wait_until(
        lambda: any(
            (e["data"].get("source") or {}).get("event_id") == good["id"]
            for e in observer.drain()
            if e["type"] == REQUEST_RECEIVED.type
        ),
        20,
        message="the consumer still consuming",
    )
