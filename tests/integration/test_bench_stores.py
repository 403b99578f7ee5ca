"""The benchmark's store per service (``BENCH_STORES=per-service``, benchmarks/system.py):
each service's processes work on a store of their own, the whole chain runs across
them, and what the benchmark reads of a service it reads from that service's store."""

import os
import uuid
from urllib.parse import quote, urlparse, urlunparse

import pytest
from pymongo import MongoClient

from benchmarks.system import BenchSystem
from services.common import config
from tests.integration.test_bench_history import post
from tests.support import story_request, wait_until

pytestmark = pytest.mark.e2e


def test_each_service_works_on_its_own_store_and_the_chain_runs_across_them(tmp_path, rabbit):
    vhost = f"shegong-stores-{uuid.uuid4().hex[:8]}"
    rabbit.add_vhost(vhost)
    base = urlparse(os.environ.get("AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/"))
    system = BenchSystem(
        tmp_path,
        urlunparse(base._replace(path="/" + quote(vhost, safe=""))),
        f"stores{uuid.uuid4().hex[:6]}",
        stores="per-service",
    )
    try:
        system.up()
        uris = {service: system.store_uri(service) for service in config.SERVICES}
        assert len(set(uris.values())) == len(config.SERVICES), uris
        request_id = post(system, story_request())
        shared = MongoClient(system.env["MONGO_URI"])
        cases = system.database(shared, "casework")["cases"]
        [case] = wait_until(lambda: list(cases.find({"request_id": request_id})), 60)
        messages = system.database(shared, "notifications")["messages"]
        wait_until(lambda: messages.find_one({"case_id": case["_id"]}), 60, message="SMS")
        facts = system.database(shared, "reporting")
        wait_until(
            lambda: facts["facts_v1"].find_one({"_id": f"request:{request_id}"}),
            60,
            message="the request's fact",
        )
        requests = system.database(shared, "intake")["requests"]
        assert requests.find_one({"_id": request_id})
        shared.close()
        for service in config.SERVICES:
            # a service's database is on its own store, and on no other
            for other, uri in uris.items():
                with MongoClient(uri) as client:
                    names = client.list_database_names()
                assert (f"{system.db_prefix}_{service}" in names) == (other == service), (
                    service,
                    other,
                    names,
                )
    finally:
        system.down()
        rabbit.delete_vhost(vhost)
