"""The lists of messages (GET /v1/messages), newest first, read through list keys
(services/common/list_keys.py): one index range per status or inbox part, so a page
reads what it returns whatever the history holds.

- ``list_station_created``: a station's messages, by status;
- ``list_district_created``: the district's, by status;
- ``list_inbox_created``: in-app messages, by recipient and whether read.
"""

from __future__ import annotations

from typing import Optional

from pymongo.collection import Collection

from services.common import clock, list_keys, paging
from services.common.vocabulary import MESSAGE_STATUSES

LISTS = ("list_station_created", "list_district_created", "list_inbox_created")
READ_STATES = ("read", "unread")


def keys_of(message: dict) -> dict:
    """A message's list keys, derived from its fields (written with every change)."""
    created, message_id = message.get("created_ms"), message["_id"]
    status = message.get("status") or "created"
    keys = {
        "list_station_created": list_keys.key(
            message.get("station") or "-", status, created, message_id
        ),
        "list_district_created": list_keys.key("*", status, created, message_id),
        "list_inbox_created": None,
    }
    if message.get("channel") == "in_app":
        state = "read" if message.get("read_at") else "unread"
        keys["list_inbox_created"] = list_keys.key(
            "in_app", f"{message.get('recipient_id')}/{state}", created, message_id
        )
    return keys


def page(
    messages: Collection,
    filters: dict,
    limit: int,
    cursor: Optional[str] = None,
    inbox: Optional[list] = None,
    unread: Optional[bool] = None,
) -> tuple:
    """``(messages, next_cursor)`` newest first. ``filters``: case_id, recipient_role,
    status, channel, station, since / until (ISO instants); ``inbox``: only the in-app
    messages to these recipient ids; ``unread``: in-app messages not read (True) or read."""
    wanted = {
        key: value for key, value in filters.items() if value and key not in ("since", "until")
    }
    if inbox is not None or unread is not None:
        wanted["channel"] = "in_app"
    since = clock.to_ms(clock.parse_iso(filters["since"])) if filters.get("since") else None
    until = clock.to_ms(clock.parse_iso(filters["until"])) - 1 if filters.get("until") else None

    def keep(message: dict) -> bool:
        return (
            all(message.get(key) == value for key, value in wanted.items())
            and (unread is None or bool(message.get("read_at")) != unread)
            and (inbox is None or message.get("recipient_id") in inbox)
        )

    if wanted.get("case_id"):  # one case's messages: a few, by its own index
        found = [
            m
            for m in messages.find({"case_id": wanted["case_id"]}, {"outbox": 0})
            if keep(m)
            and (since is None or m["created_ms"] >= since)
            and (until is None or m["created_ms"] <= until)
        ]
        return paging.in_memory(found, "created", "created_ms", True, limit, cursor)
    if inbox is not None:
        states = READ_STATES if unread is None else ("unread",) if unread else ("read",)
        field, scope = "list_inbox_created", "in_app"
        parts = [f"{recipient}/{state}" for recipient in inbox for state in states]
    else:
        field = "list_station_created" if wanted.get("station") else "list_district_created"
        scope = wanted.get("station") or "*"
        parts = [wanted["status"]] if wanted.get("status") else list(MESSAGE_STATUSES)
    return list_keys.page(
        messages,
        field,
        scope,
        parts,
        "created",
        "created_ms",
        True,
        limit,
        cursor,
        {"outbox": 0},
        keep=keep,
        within=(since, until),
    )
