"""notifications' webhook deliveries on the real store: each attempt recorded in order,
listed by state; a referral event for an AMQP agency is left to the agency's queue."""

import pytest

from services.common import agencies
from services.notifications import webhooks
from services.notifications.handlers import webhooks as handlers_webhooks
from services.notifications.store import NotificationStore

HEALTH = agencies.Agency(
    "health-commission",
    "卫健委",
    "p",
    frozenset(),
    "webhook",
    webhook_url="http://receiver.invalid/x",
)
FEDERATION = agencies.Agency("disabled-federation", "残联", "p", frozenset(), "amqp")


class Settings:
    retry_delays_ms = (100, 200)
    webhook_secrets = {"health-commission": "s"}


def event(agency="health-commission"):
    return {
        "id": f"ev-{agency}",
        "type": "shegong.referral.sent.v1",
        "data": {
            "agency": agency,
            "referral_id": "ref-1",
            "case_id": "case-1",
            "station": "daxing",
        },
    }


@pytest.fixture
def store(database):
    store = NotificationStore(database("notifications"))
    store.ensure_indexes()
    return store


def test_every_attempt_is_recorded_and_the_last_failure_is_failed(store):
    answers = iter(
        [
            webhooks.Outcome(False, 503, "HTTP 503"),
            webhooks.Outcome(False, None, "ConnectTimeout"),
            webhooks.Outcome(False, 500, "HTTP 500"),
        ]
    )
    partners = {"health-commission": HEALTH}
    for _ in range(3):
        with pytest.raises(handlers_webhooks.WebhookFailed):
            handlers_webhooks.deliver_referral(
                store, partners, Settings, event(), post=lambda *a: next(answers)
            )
    [failed] = store.webhooks.find(state="failed")
    assert failed["attempts"] == 3 and failed["last_error"] == "HTTP 500"
    assert [(h["attempt"], h["status"]) for h in failed["history"]] == [
        (1, 503),
        (2, None),
        (3, 500),
    ]
    assert store.webhooks.find(state="delivered") == []


def test_delivered_once_and_an_amqp_agency_is_not_posted(store):
    posts = []
    partners = {"health-commission": HEALTH, "disabled-federation": FEDERATION}

    def post(*args):
        posts.append(args)
        return webhooks.Outcome(True, 200, None)

    for _ in range(2):  # a redelivery POSTs nothing more
        assert (
            handlers_webhooks.deliver_referral(store, partners, Settings, event(), post=post)
            == "delivered"
        )
    assert (
        handlers_webhooks.deliver_referral(
            store, partners, Settings, event("disabled-federation"), post=post
        )
        == "not_webhook"
    )
    assert len(posts) == 1 and posts[0][2] == "s"
    assert [d["referral_id"] for d in store.webhooks.find(station="daxing")] == ["ref-1"]


def test_a_replayed_dead_letter_gets_a_new_round_of_retries(store):
    """Dead-lettered after its retries, then replayed by an operator (make
    deadletters-replay resets the handler's attempts): the delivery shows it retrying
    again, not failed after the first new attempt, and keeps every attempt."""
    partners = {"health-commission": HEALTH}

    def refused(*args):
        return webhooks.Outcome(False, 503, "HTTP 503")

    for _ in range(3):
        with pytest.raises(handlers_webhooks.WebhookFailed):
            handlers_webhooks.deliver_referral(store, partners, Settings, event(), post=refused)
    assert store.webhooks.find(state="failed")
    with pytest.raises(handlers_webhooks.WebhookFailed):  # the replay's first attempt
        handlers_webhooks.deliver_referral(store, partners, Settings, event(), post=refused)
    [again] = store.webhooks.find(state="retrying")
    assert again["attempts"] == 4 and again["replays"] == 1
    assert (
        handlers_webhooks.deliver_referral(
            store, partners, Settings, event(), post=lambda *a: webhooks.Outcome(True, 200, None)
        )
        == "delivered"
    )
    [delivered] = store.webhooks.find(state="delivered")
    assert [h["attempt"] for h in delivered["history"]] == [1, 2, 3, 4, 5]
