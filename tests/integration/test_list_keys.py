"""Lists read through list keys (services/common/list_keys.py) on the real store: every
page sequence, whatever the filters, limit and order, is exactly the filtered, sorted
list, with no item skipped or repeated; and a page reads a bounded number of documents
however many others the collection holds (issue 23)."""

import random

import pytest

from services.common import list_keys

STATUSES = ("open", "shut", "gone")


def documents(count, seed=7):
    rng = random.Random(seed)
    found = []
    for n in range(count):
        status = rng.choice(STATUSES)
        due = rng.choice([None, rng.randrange(0, 50)])  # ties and missing values
        scope = rng.choice(["a", "b"])
        item = {
            "_id": f"i{n:04d}",
            "scope": scope,
            "status": status,
            "due": due,
            "colour": rng.choice(["red", "blue", "blue", "blue", "blue", "blue"]),
        }
        item["k"] = list_keys.key(scope, status, due, item["_id"])
        found.append(item)
    return found


@pytest.fixture
def collection(database):
    items = database("intake")["list_keys_probe"]
    items.create_index("k")
    items.insert_many(documents(300))
    return items


def expected(items, scope, statuses, keep, descending, within):
    low, high = within
    chosen = [
        d
        for d in items
        if d["scope"] == scope
        and d["status"] in statuses
        and keep(d)
        and (within == (None, None) or d["due"] is not None)  # as MongoDB compares
        and (low is None or d["due"] >= low)
        and (high is None or d["due"] <= high)
    ]
    return [
        d["_id"]
        for d in sorted(
            chosen, key=lambda d: (list_keys.sortable(d["due"]), d["_id"]), reverse=descending
        )
    ]


def every_page(collection, statuses, keep, descending, limit, within):
    seen, cursor = [], None
    for _ in range(200):
        items, cursor = list_keys.page(
            collection,
            "k",
            "a",
            list(statuses),
            "due",
            "due",
            descending,
            limit,
            cursor,
            keep=keep,
            within=within,
        )
        assert len(items) <= limit
        seen += [d["_id"] for d in items]
        if cursor is None:
            return seen
    raise AssertionError("the pages never ended")


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("limit", [1, 7, 100])
@pytest.mark.parametrize("statuses", [("open",), ("open", "gone"), STATUSES])
@pytest.mark.parametrize("colour", [None, "red"])
@pytest.mark.parametrize("within", [(None, None), (None, 20), (21, None)])
def test_pages_are_the_filtered_sorted_list(
    collection, descending, limit, statuses, colour, within
):
    items = list(collection.find())

    def keep(document):
        return colour is None or document["colour"] == colour

    assert every_page(collection, statuses, keep, descending, limit, within) == expected(
        items, "a", statuses, keep, descending, within
    )


def test_a_page_reads_what_it_returns_not_the_history(collection):
    """Thousands of other items (another scope, other statuses) change nothing read."""
    calls = []

    class Counting:
        def find(self, *args, **kwargs):
            found = list(collection.find(*args, **kwargs))
            calls.append(len(found))
            return found

    collection.insert_many(
        [{"_id": f"h{n}", "k": list_keys.key("b", "gone", n, f"h{n}")} for n in range(3000)]
    )
    items, _ = list_keys.page(Counting(), "k", "a", ["open", "shut"], "due", "due", False, 10)
    assert len(items) == 10
    assert len(calls) == 2 and sum(calls) <= 2 * 11


@pytest.mark.parametrize("descending", [False, True])
def test_a_filter_that_keeps_almost_nothing_cuts_pages_short_but_loses_nothing(
    collection, descending
):
    """Past list_keys.MAX_ROUNDS reads a page ends early with a cursor; following the
    cursors still gives every item, once."""
    items = list(collection.find())
    wanted = {d["_id"] for d in items if d["scope"] == "a"}
    wanted = set(sorted(wanted)[::40])  # a handful, far apart

    def keep(document):
        return document["_id"] in wanted

    assert every_page(collection, STATUSES, keep, descending, 1, (None, None)) == expected(
        items, "a", STATUSES, keep, descending, (None, None)
    )


def test_a_range_read_past_the_page_is_not_read_again(database):
    """A worker's cases by due time: a few open ones first, then the ended ones (no
    clock: one sort value), most of them closed. After the first share of each range
    only the range read least far goes on, by what the page may still take from it:
    about a page is read, not twice one."""
    items = database("intake")["list_keys_ended"]
    items.create_index("k")
    rng = random.Random(11)
    sizes = {"open": 6, "held": 5, "late": 4, "closed": 900, "resolved": 70, "cancelled": 30}
    documents = []
    for part, size in sizes.items():
        for n in range(size):
            item_id = f"{rng.randrange(16**8):08x}-{part}-{n}"
            due = n if size < 10 else None  # the ended ones: one sort value, by id
            documents.append({"_id": item_id, "k": list_keys.key("w", part, due, item_id)})
    items.insert_many(documents)
    reads = []

    class Counting:
        def find(self, *args, **kwargs):
            found = list(items.find(*args, **kwargs))
            reads.append(len(found))
            return found

    parts = [*sizes, "received", "referred"]
    page, cursor = list_keys.page(Counting(), "k", "w", parts, "due", "due", False, 100)
    expected = sorted(documents, key=lambda d: d["k"].split("|", 2)[2])[:100]
    assert [d["_id"] for d in page] == [d["_id"] for d in expected] and cursor
    # the first shares (the three ended ranges' 14 each: more than their part of the
    # page), then the closed range alone; doubling every unfinished range read ~200
    assert len(reads) <= len(parts) + 3 and sum(reads) <= 101 + 3 * 14, reads
