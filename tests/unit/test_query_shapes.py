"""A command's shape keeps what decides its plan and drops the values
(benchmarks/shapes.py), so that a workload's commands collapse to a few shapes."""

from benchmarks import shapes


def keys(command):
    return [shapes.key(shape) for shape, _ in shapes.statements(command)]


def test_values_are_replaced_by_their_types_and_operators_kept():
    one = {
        "find": "cases",
        "filter": {"station": "daxing", "status": {"$in": ["a", "b"]}},
        "sort": {"due_sort_ms": 1, "_id": 1},
        "limit": 20,
        "projection": {"outbox": 0},
    }
    other = {
        "find": "cases",
        "filter": {"status": {"$in": ["c"]}, "station": "xinzhuang"},
        "sort": {"due_sort_ms": 1, "_id": 1},
        "limit": 5,
        "projection": {"outbox": 0},
    }
    assert (
        keys(one)
        == keys(other)
        == [
            'find cases {"station":"str","status":{"$in":["str"]}} '
            'sort=[["due_sort_ms",1],["_id",1]] projection=["outbox"] limit=true'
        ]
    )
    # the sort's order and direction, and the operator, make another shape
    assert keys({**one, "sort": {"_id": 1, "due_sort_ms": 1}}) != keys(one)
    assert keys({**one, "filter": {"station": {"$gt": "a"}}}) != keys(one)


def test_each_statement_of_a_write_is_a_shape_with_an_example_of_its_own():
    command = {
        "update": "cases",
        "ordered": True,
        "updates": [
            {"q": {"_id": "c1", "version": 3}, "u": {"$set": {"a": 1}}},
            {"q": {"_id": "c2", "version": 4}, "u": {"$set": {"b": 2}}},
            {"q": {"request_id": "r1"}, "u": {"$set": {"a": 1}}, "multi": True},
        ],
    }
    found = list(shapes.statements(command))
    assert len({shapes.key(shape) for shape, _ in found}) == 2
    assert [len(example["updates"]) for _, example in found] == [1, 1, 1]
    assert shapes.key(found[2][0]) == 'update cases {"request_id":"str"} update=["$set"] multi=true'


def test_a_pipeline_keeps_its_stages_and_types_its_match():
    command = {
        "aggregate": "cases",
        "cursor": {},
        "pipeline": [
            {"$match": {"station": "daxing"}},
            {"$group": {"_id": 1, "n": {"$sum": 1}}},
            {"$limit": 7},
        ],
    }
    assert keys(command) == [
        'aggregate cases pipeline=[{"$match":{"station":"str"}},'
        '{"$group":{"_id":1,"n":{"$sum":1}}},{"$limit":"int"}]'
    ]


def test_text_that_starts_like_a_date_is_a_type_of_its_own():
    """The embedded store compares such text as an instant (in UTC), MongoDB as text."""
    for value in ("2026-12-08", "2026-12-08T00:30:00+08:00", "2026-12-08-batch-7", "12/08/2026"):
        assert shapes.type_of(value) == "date-text", value
    for value in ("*|assigned|12026-12-08T00:30:00+08:00 case-1", "case-1", "000000000042"):
        assert shapes.type_of(value) == "str", value
    find = {"find": "cases", "filter": {"opened_at": {"$gte": "2026-12-08"}}}
    assert keys(find) == ['find cases {"opened_at":{"$gte":"date-text"}}']
