"""casework's referral.answered consumer with nameko's worker_factory on the real store:
the case follows an agency's answer once; an answer for an unknown case or for a
referral the case does not have is an InvalidEvent (dead-lettered, never retried)."""

import pytest
from nameko.testing.services import worker_factory

from services.casework import domain, handlers
from services.casework.domain import referrals as domain_referrals
from services.casework.service import CaseworkService
from services.common import agencies, clock
from services.common.auth import Principal
from services.common.contracts import CASE_REFERRAL_ANSWERED, REFERRAL_ANSWERED
from services.common.envelope import InvalidEvent, new_event
from tests.fakes.relay import RecordingRelay
from tests.service.test_casework_service import received
from tests.support import find_cases, open_case_for_request, seeded_case_store

AGENCY = agencies.Agency(
    "health-commission",
    "卫健委",
    "p",
    frozenset(),
    "webhook",
    webhook_url="http://x.invalid/",
)


@pytest.fixture
def store(database):
    return seeded_case_store(database)


def answered(case_id, referral_id="ref-1", answer="rejected", event_id=None):
    return new_event(
        REFERRAL_ANSWERED,
        {
            "referral_id": referral_id,
            "case_id": case_id,
            "station": "daxing",
            "agency": "health-commission",
            "answer": answer,
            "reason": "不在服务范围",
            "answered_at": "2023-05-29T09:00:00+08:00",
            "source": {
                "system": "health-commission",
                "kind": "referral_answer",
                "event_id": "hc-1",
            },
        },
        subject=case_id,
        correlation_id="r-1",
        sequence=1,
        event_id=event_id,
    )


def referred_case(store, relay):
    open_case_for_request(
        store, relay, received(), received()["data"] | {"repeat_of": None, "source": None}
    )
    case = find_cases(store)[0]
    worker = Principal(case.assignee["id"], "worker", "daxing")
    now = clock.now()
    handlers.run_command(store, relay, case.case_id, lambda c: domain.accept(c, worker, now))
    handlers.run_command(
        store,
        relay,
        case.case_id,
        lambda c: domain_referrals.refer_to_agency(c, worker, AGENCY, c.resident, "", now, "ref-1"),
    )
    return case.case_id


def test_the_case_follows_an_answer_once(store):
    relay = RecordingRelay()
    case_id = referred_case(store, relay)
    service = worker_factory(CaseworkService, store=store, relay=relay)
    event = answered(case_id)
    service.referral_answered(event)
    service.referral_answered(event)  # redelivered
    case, document = store.get(case_id)
    assert case.status == "in_progress" and case.referral["reason"] == "不在服务范围"
    outbox_types = [e["type"] for e in document["outbox"]]
    assert outbox_types.count(CASE_REFERRAL_ANSWERED.type) == 1
    assert document["outbox"][-1]["causationid"] == event["id"]


def test_an_answer_for_an_unknown_case_or_referral_is_invalid(store):
    relay = RecordingRelay()
    case_id = referred_case(store, relay)
    service = worker_factory(CaseworkService, store=store, relay=relay)
    with pytest.raises(InvalidEvent, match="no case"):
        service.referral_answered(answered("case-nowhere"))
    with pytest.raises(InvalidEvent, match="no referral ref-2"):
        service.referral_answered(answered(case_id, referral_id="ref-2"))
    assert store.get(case_id)[0].status == "referred"
