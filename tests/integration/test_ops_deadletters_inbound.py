"""The dead-letter tool with events from other systems: a binary-mode event (no AMQP
message id, its id in cloudEvents_id) is listed, shown and found by its CloudEvent id;
deeply nested poison messages do not stop the listing. Real broker, real intake worker."""

import argparse
import io
import json

from services.ops import deadletters
from tests.inbound_support import publish_raw, referral
from tests.support import wait_until


def tool(settings, command, event_id=None):
    args = argparse.Namespace(
        command=command, service="intake", id=event_id, all=False, to_exchange=False
    )
    out = io.StringIO()
    code = deadletters.run(args, settings, out)
    return code, out.getvalue()


def parked(settings):
    code, listing = tool(settings, "list")
    return code == 0 and len(listing.strip().splitlines()) == 4 and listing  # header, 3 rows


def test_dead_letters_from_other_systems_are_listed_and_found_by_their_cloudevent_id(
    intake_worker, settings
):
    event = {**referral(), "id": "ext-0042", "type": "gov.suyu.civil_affairs.unknown.v1"}
    properties = {
        f"cloudEvents_{k}": v for k, v in event.items() if k not in ("data", "datacontenttype")
    }
    publish_raw(
        settings.amqp_uri,
        json.dumps(event["data"], ensure_ascii=False).encode(),
        "application/json",
        properties,
        system="civil-affairs",
    )
    publish_raw(
        settings.amqp_uri, b"[" * 100_000, "application/cloudevents+json", system="civil-affairs"
    )
    deep = json.dumps(
        {
            **referral(),
            "id": "deep-1",
            "type": "gov.suyu.nothing.v1",
            "extra": json.loads("[" * 500 + "]" * 500),
        }
    )
    publish_raw(
        settings.amqp_uri, deep.encode(), "application/cloudevents+json", system="civil-affairs"
    )
    listing = wait_until(lambda: parked(settings), 20, message="three dead letters listed")
    assert "ext-0042" in listing and "gov.suyu.civil_affairs.unknown.v1" in listing
    assert "malformed_json" in listing  # the poison message is listed with its reason

    code, shown = tool(settings, "show", "ext-0042")
    assert code == 0
    [details] = json.loads(shown)
    assert details["id"] == details["event_id"] == "ext-0042" and details["message_id"] is None
    assert details["reason"].startswith("unknown_type")
    assert "邹书兰" not in shown and "13812345678" not in shown  # masked for the screen

    code, shown = tool(settings, "show", "deep-1")
    [details] = json.loads(shown)
    assert "not shown" in details["body"]
    assert tool(settings, "show", "no-such-id")[0] == 1
    assert parked(settings)  # reading consumed nothing
