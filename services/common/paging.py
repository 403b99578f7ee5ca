"""Keyset paging with an opaque cursor, for every list an API answers.

A list is sorted on one field and then ``_id`` (unique, so the order is total). The
cursor handed out with a page (``next_cursor``) is the sort key of its last item,
base64url-encoded JSON together with the name of the order it belongs to; the next
page is what sorts after it. Unlike an offset, a cursor neither skips nor repeats an
item when items are added ahead of it meanwhile. Clients treat it as opaque.
"""

import base64
import binascii
import json
import re
from typing import Any, Callable, Iterable, Optional

from marshmallow import ValidationError, fields, validate

MAX_CURSOR_CHARS = 500


def _base64url(value: str) -> None:
    """A cursor is base64url, as ``encode`` writes it: nothing else (no control
    character, no line break) is one."""
    if not re.fullmatch(r"[A-Za-z0-9_=-]+", value):
        raise ValidationError("not a cursor this list gave out")


class Cursor(fields.String):
    """The ``cursor`` query parameter (opaque; checked when decoded)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("validate", [validate.Length(min=1, max=MAX_CURSOR_CHARS), _base64url])
        kwargs.setdefault("metadata", {"description": "the next_cursor of the previous page"})
        super().__init__(**kwargs)


def encode(order: str, key: Any, item_id: str) -> str:
    """The cursor after an item whose sort key is ``key`` and ``_id`` is ``item_id``."""
    raw = json.dumps([order, key, item_id], ensure_ascii=False, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode("utf-8")).rstrip(b"=").decode("ascii")


def decode(cursor: str, order: str) -> tuple:
    """``(key, item_id)`` of a cursor of this order; ValidationError on field ``cursor``
    when it is not one (tampered, or from a list sorted another way)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        name, key, item_id = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise ValidationError({"cursor": ["not a cursor this list gave out"]}) from None
    if (
        name != order
        or not isinstance(item_id, str)
        or not (key is None or isinstance(key, (int, str)))
        or isinstance(key, bool)
        or (isinstance(key, int) and not -(2**63) <= key < 2**63)
    ):  # what MongoDB stores
        raise ValidationError({"cursor": ["not a cursor of this list's order"]})
    return key, item_id


def after(field: str, descending: bool, cursor_key: Any, item_id: str) -> dict:
    """The filter for the items that sort after ``(cursor_key, item_id)``."""
    beyond = "$lt" if descending else "$gt"
    if field == "_id":
        return {"_id": {beyond: item_id}}
    return {"$or": [{field: {beyond: cursor_key}}, {field: cursor_key, "_id": {beyond: item_id}}]}


def page(
    collection: Any,
    query: dict,
    order: str,
    field: str,
    descending: bool,
    limit: int,
    cursor: Optional[str] = None,
    projection: Optional[dict] = None,
    convert: Callable[[dict], Any] = lambda document: document,
) -> tuple:
    """One page of ``collection``: ``(items, next_cursor)``; next_cursor is None on the
    last page. One more document than asked for is read to know whether there is more."""
    if cursor:
        key, item_id = decode(cursor, order)
        query = (
            {"$and": [query, after(field, descending, key, item_id)]}
            if query
            else after(field, descending, key, item_id)
        )
    direction = -1 if descending else 1
    sort = [(field, direction)] + ([("_id", direction)] if field != "_id" else [])
    documents = list(collection.find(query, projection, sort=sort, limit=limit + 1))
    more = len(documents) > limit
    documents = documents[:limit]
    next_cursor = encode(order, _key(documents[-1], field), documents[-1]["_id"]) if more else None
    return [convert(document) for document in documents], next_cursor


def in_memory(
    documents: list,
    order: str,
    field: str,
    descending: bool,
    limit: int,
    cursor: Optional[str] = None,
) -> tuple:
    """``page`` over documents already read (a handful: one case's), same cursors."""

    def sort_key(document: dict) -> tuple:
        value = _key(document, field)
        return (value is not None, value if value is not None else 0, document["_id"])

    documents = sorted(documents, key=sort_key, reverse=descending)
    if cursor:
        key, item_id = decode(cursor, order)
        edge = (key is not None, key if key is not None else 0, item_id)
        documents = [
            d for d in documents if (sort_key(d) < edge if descending else sort_key(d) > edge)
        ]
    more = len(documents) > limit
    documents = documents[:limit]
    next_cursor = encode(order, _key(documents[-1], field), documents[-1]["_id"]) if more else None
    return documents, next_cursor


def value_of(document: dict, field: str) -> Any:
    """A document's value of a (dotted) sort field."""
    return _key(document, field)


def _key(document: dict, field: str) -> Any:
    value: Any = document
    for part in field.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


class ValueList(fields.String):
    """A query parameter taking one or several values, comma-separated
    (``status=assigned,accepted``); loaded as a list, each value one of ``choices``."""

    def __init__(self, choices: Iterable[str], **kwargs: Any) -> None:
        self.choices = tuple(choices)
        kwargs.setdefault("metadata", {})
        kwargs["metadata"] = {
            "description": "one or more of " + ", ".join(self.choices) + ", comma-separated",
            **kwargs["metadata"],
        }
        super().__init__(**kwargs)

    def _deserialize(  # type: ignore[override]  # a comma-separated string loads as a list
        self, value: Any, attr: Any, data: Any, **kwargs: Any
    ) -> list:
        text = super()._deserialize(value, attr, data, **kwargs)
        if len(text) > 500:
            raise ValidationError("too long")
        values = [part.strip() for part in text.split(",") if part.strip()]
        unknown = sorted({part for part in values if part not in self.choices})
        if unknown or not values:
            raise ValidationError(
                f"must be one or more of {', '.join(self.choices)}, "
                f"comma-separated (not {', '.join(unknown) or 'empty'})"
            )
        return list(dict.fromkeys(values))
