"""Every renamed entrypoint's former queue is retired into the queue of an entrypoint
that exists now (a typo would leave the old queue collecting events for good)."""

import pytest

from services.common.messaging import consumers_of
from services.common.queue_moves import RENAMED_ENTRYPOINTS, retired_queues
from services.common.service_classes import service_class


@pytest.mark.parametrize(("service", "former"), sorted(RENAMED_ENTRYPOINTS))
def test_a_renamed_entrypoint_names_an_entrypoint_of_its_service(service, former):
    entrypoints = dict(consumers_of(service_class(service)))
    assert RENAMED_ENTRYPOINTS[(service, former)] in entrypoints
    assert former not in entrypoints


def test_the_retired_queue_has_the_binding_of_its_successor():
    pairs = list(retired_queues("casework", consumers_of(service_class("casework"))))
    by_name = {retired.name: successor for retired, successor in pairs}
    successor = by_name["evt-intake-shegong.request.received.v1--casework.open_case"]
    assert successor.name == "evt-intake-shegong.request.received.v1--casework.request_received"
    retired = next(r for r, s in pairs if s is successor)
    assert (retired.exchange.name, retired.routing_key) == (
        successor.exchange.name,
        successor.routing_key,
    )
    assert len(pairs) == 2  # open_case, update_registry


def test_a_service_with_nothing_renamed_retires_nothing():
    assert list(retired_queues("reporting", consumers_of(service_class("reporting")))) == []
