"""Intake takes an agency's answer only for a referral made to that agency: learnt from
case.referred, 403 for another agency's referral, 422 (a dead letter on AMQP) for one it
never heard of, 409 for one that loses a concurrent write (retried on AMQP); each answer
recorded once and published as referral.answered in the case's correlation. Real broker,
real store, intake's real worker and WSGI app."""

import json
import logging
from dataclasses import replace

import pytest
from werkzeug.test import Client

from services.common.contracts import CASE_REFERRED, REFERRAL_ANSWERED
from services.common.envelope import new_event
from services.intake import api as intake_api
from services.intake.service import IntakeService
from tests.inbound_support import (
    KEYS,
    Observer,
    dead_letters,
    publish_inbound,
    referral_answer,
)
from tests.support import wait_until

SINGLE = "application/cloudevents+json"


@pytest.fixture
def intake(settings, topology, database):
    database("intake")
    return Client(intake_api.create_app(settings))


def send(intake, body, agency):
    return intake.post(
        "/v1/events",
        data=json.dumps(body, ensure_ascii=False),
        content_type=SINGLE,
        headers={"X-Api-Key": KEYS[agency]},
    )


def refer(settings, referral_id="ref-1", agency="health-commission", case_id="case-1"):
    """casework's case.referred, as the intake worker receives it."""
    from services.common.messaging import EventPublisher

    event = new_event(
        CASE_REFERRED,
        {
            "case_id": case_id,
            "request_id": "r-1",
            "station": "daxing",
            "status": "referred",
            "agency": agency,
            "referred_by": "dx-01",
            "referred_at": "2023-05-29T09:00:00+08:00",
            "referral_id": referral_id,
        },
        subject=case_id,
        correlation_id="r-1",
        sequence=6,
    )
    EventPublisher(settings.amqp_uri).publish(event)


def test_only_the_agency_referred_to_may_answer(intake_worker, intake, settings, database):
    observer = Observer(settings.amqp_uri)
    refer(settings)
    referrals = database("intake")["referrals"]
    wait_until(lambda: referrals.find_one({"_id": "ref-1"}), 20, message="referral learnt")
    other = send(
        intake, referral_answer(agency="disabled-federation", answer="done"), "disabled-federation"
    )
    assert other.status_code == 403 and other.json["error"]["code"] == "not_your_referral"
    unknown = send(intake, referral_answer(referral_id="ref-9"), "health-commission")
    assert unknown.status_code == 422 and unknown.json["error"]["code"] == "unknown_referral"
    no_reason = send(intake, referral_answer(answer="rejected"), "health-commission")
    assert no_reason.status_code == 422 and "reason" in str(no_reason.json["error"])
    assert referrals.find_one({"_id": "ref-1"})["answers"] == []  # refusals change nothing
    accepted = referral_answer(answer="accepted")
    first = send(intake, accepted, "health-commission")
    assert first.status_code == 202, first.json
    assert send(intake, accepted, "health-commission").json["results"][0]["status"] == "duplicate"
    [published] = wait_until(
        lambda: observer.of_type(REFERRAL_ANSWERED.type), 20, message="referral.answered"
    )
    assert published["correlationid"] == "r-1" and published["subject"] == "case-1"
    assert published["data"]["answer"] == "accepted"
    assert published["data"]["source"] == {
        "system": "health-commission",
        "kind": "referral_answer",
        "event_id": accepted["id"],
    }
    assert len(referrals.find_one({"_id": "ref-1"})["answers"]) == 1


def test_on_amqp_a_refused_answer_is_dead_lettered_with_the_reason(
    intake_worker, settings, database
):
    refer(settings)
    wait_until(
        lambda: database("intake")["referrals"].find_one({"_id": "ref-1"}),
        20,
        message="referral learnt",
    )
    publish_inbound(
        settings.amqp_uri,
        referral_answer(agency="disabled-federation"),
        system="disabled-federation",
    )
    publish_inbound(
        settings.amqp_uri, referral_answer(referral_id="ref-unknown"), system="health-commission"
    )
    parked = []
    wait_until(
        lambda: parked.extend(dead_letters(settings.amqp_uri)) or len(parked) >= 2,
        20,
        message="two dead letters",
    )
    reasons = sorted(headers["x-death-reason"] for headers, _ in parked)
    assert reasons[0].startswith("not_your_referral") and reasons[1].startswith("unknown_referral")
    assert database("intake")["referrals"].find_one({"_id": "ref-1"})["answers"] == []


def test_on_amqp_an_answer_that_loses_a_concurrent_write_is_retried_not_dead_lettered(
    intake_worker, settings, database, monkeypatch
):
    from services.intake.store import RequestStore

    refer(settings)
    wait_until(
        lambda: database("intake")["referrals"].find_one({"_id": "ref-1"}),
        20,
        message="referral learnt",
    )
    lost = {"left": 3}  # every write of the first delivery loses (referrals.WRITE_RETRIES)
    add_answer = RequestStore.add_answer

    def contended(store, referral, answer, envelope):
        if lost["left"] > 0:
            lost["left"] -= 1
            return None
        return add_answer(store, referral, answer, envelope)

    monkeypatch.setattr(RequestStore, "add_answer", contended)
    monkeypatch.setattr("services.intake.handlers.referrals.WRITE_RETRIES", 3)
    observer = Observer(settings.amqp_uri)
    sent = referral_answer(answer="accepted")
    publish_inbound(settings.amqp_uri, sent, system="health-commission")
    wait_until(
        lambda: database("intake")["referrals"].find_one({"_id": "ref-1"})["answers"],
        20,
        message="the answer recorded on a retry",
    )
    assert lost["left"] == 0  # the first delivery did lose
    [answered] = wait_until(
        lambda: observer.of_type(REFERRAL_ANSWERED.type), 20, message="referral.answered"
    )
    assert answered["data"]["answer"] == "accepted"
    assert dead_letters(settings.amqp_uri) == []


def test_on_amqp_an_answer_before_intake_learnt_of_its_referral_is_retried_then_recorded(
    container_factory, settings, topology, database, caplog
):
    """An agency on AMQP may answer before case.referred reaches intake (casework
    publishes both at once): the answer waits out a retry delay instead of being
    dead-lettered, and is recorded once the referral is known."""
    database("intake")
    patient = replace(settings, retry_delays_ms=(1500, 3000, 6000))
    container_factory(IntakeService, patient.nameko_config()).start()
    observer = Observer(settings.amqp_uri)
    with caplog.at_level(logging.WARNING, logger="services.common.messaging"):
        publish_inbound(
            settings.amqp_uri, referral_answer(answer="accepted"), system="health-commission"
        )
        wait_until(
            lambda: "retry in 1500 ms" in caplog.text,
            20,
            message="the early answer put back for a retry",
        )
    refer(settings)
    [answered] = wait_until(
        lambda: observer.of_type(REFERRAL_ANSWERED.type),
        30,
        message="referral.answered after the retry",
    )
    assert answered["data"]["answer"] == "accepted"
    assert len(database("intake")["referrals"].find_one({"_id": "ref-1"})["answers"]) == 1
    assert dead_letters(settings.amqp_uri) == []


def test_on_amqp_an_answer_for_a_referral_never_made_ends_in_the_dead_letters(
    intake_worker, settings, database
):
    publish_inbound(
        settings.amqp_uri, referral_answer(referral_id="ref-never"), system="health-commission"
    )
    parked = wait_until(
        lambda: dead_letters(settings.amqp_uri),
        20,
        message="dead-lettered once the delays are used up",
    )
    [(headers, _)] = parked
    assert headers["x-death-reason"].startswith("unknown_referral")
    assert headers["x-exception-type"] == "NotKnownYet"
    assert int(headers["x-shegong-attempts"]) == 3  # tried, then retried twice (100, 200 ms)
