"""Lists read through one index range per part, whatever the history holds.

A list that filters on some fields and sorts on another (a station's cases by due time,
of some statuses) needs a compound index; the embedded store uses single-field indexes
only, and on MongoDB a compound index over years of closed cases still leaves the
filters that are not a prefix of it to be read and dropped. So each document carries a
*list key* per list it appears in, one string that sorts as the list does:

    <scope>|<part>|<sort value> <_id>

``scope`` is what the list is of (a station, a worker, ``*`` for the district), ``part``
a value the list may be narrowed to (a status; or values of two fields together,
``urgent:assigned``, in printable text); ``sort value`` is encoded so that the
string order is the value order (``sortable``: None first, as MongoDB sorts it), and
the space after it sorts below every character a value or an id holds. One page of the
list is then, for each part asked for, one range query on the key's single-field
index, about a share of the page each, merged in memory, then only the range read
least far goes on, by what the page may still take from it: what is read is bounded by
the page, not by the history. Filters that are not in the key (``keep``) are applied
to what is read; a range is read further only as far as the page needs.

The cursor is paging.py's (the sort value and ``_id`` of the last item), so a cursor
handed out before a list moved to keys still works.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from services.common import paging

SEPARATOR = "|"
BEFORE_ID = " "  # below every character of a value: a shorter value sorts first
END = "~"  # above every character of a value or an id (printable ASCII)
NUMBER_DIGITS = 20  # non-negative integers up to 10**20, zero-padded
MAX_ROUNDS = 20  # reads per part for one page, at most (then the page is cut short)
MIN_CHUNK = 5  # documents a part's first read asks for, at the least


def sortable(value: Any) -> str:
    """A sort value as a string with the same order (None first, as MongoDB sorts it;
    the embedded store uses no index for a string range with control characters, so
    only printable text)."""
    if value is None:
        return "0"
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise TypeError(f"no list key for a {type(value).__name__}")
    if isinstance(value, int):
        return f"1{max(value, 0):0{NUMBER_DIGITS}d}"
    return "1" + value


def key(scope: str, part: str, value: Any, item_id: str) -> str:
    """The list key of an item (module docstring)."""
    return f"{scope}{SEPARATOR}{part}{SEPARATOR}{sortable(value)}{BEFORE_ID}{item_id}"


def page(
    collection: Any,
    field: str,
    scope: str,
    parts: list,
    order: str,
    sort_field: str,
    descending: bool,
    limit: int,
    cursor: Optional[str] = None,
    projection: Optional[dict] = None,
    convert: Callable[[dict], Any] = lambda d: d,
    keep: Callable[[dict], bool] = lambda d: True,
    within: tuple = (None, None),
) -> tuple:
    """One page, ``(items, next_cursor)``, of the items whose list key ``field`` is in
    ``scope`` and one of ``parts``, sorted by ``sort_field`` (then ``_id``); ``keep``
    filters further; ``within`` = (lowest, highest) sort value, each included, or None."""
    after = paging.decode(cursor, order) if cursor else None
    ranges = {part: _range(field, scope, part, within, after, descending) for part in parts}
    direction = -1 if descending else 1
    kept: list = []
    last: dict = {}  # part -> the last document read from its range
    done: set = set()  # parts whose range is read to its end
    reads = dict.fromkeys(parts, 0)  # reads of each part (at most MAX_ROUNDS)
    found = {part: [0, 0] for part in parts}  # documents read from each part, and kept
    # Each part is read a share of the page at first (a page of 100 over 8 statuses
    # reads 8 x 14, not 8 x 101 documents). One part alone reads the page and one more
    # (to know whether a next page exists).
    chunk = {
        part: min(limit + 1, max(MIN_CHUNK, -(-(limit + 1) // len(parts)) + 1)) for part in parts
    }

    def behind(part: str) -> bool:  # may the part still hold items before the page's end?
        if part in done:
            return False
        if part not in last or len(kept) <= limit:
            return True
        return _before(_suffix(field, last[part]), _suffix(field, kept[limit]), descending)

    first = list(parts)  # each part's first read, then only the one read least far
    while first or any(behind(part) and reads[part] < MAX_ROUNDS for part in parts):
        if first:
            part = first.pop(0)
        else:
            # The range read least far goes on (the page is whole up to where it was
            # read), by what the page may still take from it: the page and one more,
            # less what is read up to there (more when a filter drops some), at most
            # twice its last read (other ranges may fill the rest). So a range already
            # read past the page's end is not read again.
            part = (max if descending else min)(
                (p for p in parts if behind(p) and reads[p] < MAX_ROUNDS),
                key=lambda p: _suffix(field, last[p]),
            )
            reached = _suffix(field, last[part])
            need = (
                limit + 1 - sum(not _before(reached, _suffix(field, d), descending) for d in kept)
            )
            read_so_far, kept_so_far = found[part]
            if kept_so_far < read_so_far:
                need = -(-need * read_so_far // max(kept_so_far, 1))
            chunk[part] = max(1, min(need, chunk[part] * 2, limit + 1))
        query = {field: dict(ranges[part])}
        if part in last:  # further along the same range
            query[field].pop("$lte" if descending else "$gte", None)
            query[field]["$lt" if descending else "$gt"] = last[part][field]
        # one batch: past the driver's first batch of 101 a read costs a getMore more
        documents = list(
            collection.find(
                query,
                projection,
                sort=[(field, direction)],
                limit=chunk[part],
                batch_size=chunk[part],
            )
        )
        reads[part] += 1
        if len(documents) < chunk[part]:
            done.add(part)
        if documents:
            last[part] = documents[-1]
        wanted = [document for document in documents if keep(document)]
        found[part][0] += len(documents)
        found[part][1] += len(wanted)
        kept += wanted
        kept.sort(key=lambda document: _suffix(field, document), reverse=descending)
    ends = [last[part] for part in parts if behind(part)]
    if ends:
        # Read as far as allowed (a filter that keeps few): the page ends where every
        # unfinished range has been read to, and the next one goes on from there.
        edge = (max if descending else min)(ends, key=lambda d: _suffix(field, d))
        whole = [
            d for d in kept if not _before(_suffix(field, edge), _suffix(field, d), descending)
        ][:limit]
        final = whole[-1] if len(whole) == limit else edge  # all up to the edge was seen
        return [convert(d) for d in whole], paging.encode(
            order, paging.value_of(final, sort_field), final["_id"]
        )
    items = kept[:limit]
    next_cursor = (
        paging.encode(order, paging.value_of(items[-1], sort_field), items[-1]["_id"])
        if len(kept) > limit
        else None
    )
    return [convert(document) for document in items], next_cursor


def _range(field: str, scope: str, part: str, within: tuple, after, descending: bool) -> dict:
    prefix = f"{scope}{SEPARATOR}{part}{SEPARATOR}"
    low, high = within
    # a bound leaves out the items without a value, as a comparison does on MongoDB
    bounds = {
        "$gte": prefix + (sortable(low) if low is not None else "1" if high is not None else ""),
        "$lte": prefix + (sortable(high) + BEFORE_ID + END if high is not None else END),
    }
    if after is not None:
        value, item_id = after
        edge = prefix + sortable(value) + BEFORE_ID + item_id
        if descending:
            bounds["$lt"] = edge
            if bounds["$lte"] > edge:
                del bounds["$lte"]
            else:
                del bounds["$lt"]
        else:
            bounds["$gt"] = edge
            if bounds["$gte"] < edge:
                del bounds["$gte"]
            else:
                del bounds["$gt"]
    return bounds


def _suffix(field: str, document: dict) -> str:
    """The sort value and id part of a document's key: the order across parts."""
    return document[field].split(SEPARATOR, 2)[2]


def _before(reached: str, cut: str, descending: bool) -> bool:
    """Whether ``reached`` sorts before ``cut`` in the list's order."""
    return reached > cut if descending else reached < cut


def walk(collection: Any, field: str, scope: str, part: str, projection: dict, chunk: int = 200):
    """Every document of one part of a list, in key order, read ``chunk`` at a time
    (one index range each, from the last key read): what a whole list costs, without
    a read of all of it at once, which would hold the embedded store (one command at a
    time, for every service) for as long as it takes."""
    prefix = f"{scope}{SEPARATOR}{part}{SEPARATOR}"
    bounds: dict = {"$gte": prefix, "$lt": prefix + END}
    while True:
        documents = list(
            collection.find(
                {field: bounds},
                {**projection, field: 1},
                sort=[(field, 1)],
                limit=chunk,
                batch_size=chunk,
            )
        )
        yield from documents
        if len(documents) < chunk:
            return
        bounds = {"$gt": documents[-1][field], "$lt": prefix + END}
