"""A store command's shape: what decides its plan, with the values left out.

A shape is the command, the collection, the filter with each value replaced by its
type (operators and field names kept; ``$in`` lists collapse to the types they hold),
the sort, the projection's keys, the update's operators, and whether a
limit, an upsert or ``multi`` is asked for. A write command of several statements
(``bulk_write``, ``update_many`` of a batch) gives one shape per statement: each
statement is planned on its own. So a workload's thousands of commands collapse to a
few dozen shapes, each kept with one example to run again (benchmarks/plans.py).
"""

import json
from typing import Any, Iterator

from neosqlite.collection.datetime_utils import is_datetime_value

# pipeline stages whose arguments are filters (values vary per call)
FILTER_STAGES = ("$match",)
# pipeline stages whose argument is a number that varies per call
NUMBER_STAGES = ("$limit", "$skip", "$sample")


def type_of(value: Any) -> str:
    """The value's BSON type; ``date-text`` for a string the embedded store compares as
    an instant, not as text (one that starts like a date: neosqlite wraps both sides in
    SQLite's ``datetime()``, so ``2026-12-08T00:30+08:00`` sorts before ``2026-12-08``,
    and a string that only starts like a date equals nothing), where MongoDB compares
    the text: a shape holding one behaves differently on the two stores."""
    if value is None:
        return "null"
    if isinstance(value, str) and is_datetime_value(value):
        return "date-text"
    name = type(value).__name__
    return {
        "str": "str",
        "int": "int",
        "Int64": "int",
        "float": "float",
        "bool": "bool",
        "datetime": "date",
        "ObjectId": "oid",
        "bytes": "bin",
        "Binary": "bin",
    }.get(name, name)


def of_filter(value: Any) -> Any:
    """A filter with its values replaced by their types (keys sorted: the order of a
    filter's fields does not change its plan)."""
    if isinstance(value, dict):
        return {key: of_filter(value[key]) for key in sorted(value)}
    if isinstance(value, (list, tuple)):
        parts = [of_filter(item) for item in value]
        if all(isinstance(part, str) for part in parts):  # $in lists: the types they hold
            return sorted(set(parts))
        return parts  # $or / $and branches: each its own shape
    return type_of(value)


def of_keys(value: Any) -> list:
    return sorted(value) if isinstance(value, dict) else []


def of_sort(value: Any) -> list:
    return [[key, direction] for key, direction in (value or {}).items()]


def of_update(update: Any) -> Any:
    """An update's operators (a replacement document, a pipeline update: which it is);
    the fields an update writes do not change its plan."""
    if isinstance(update, list):
        return "pipeline"
    if not isinstance(update, dict):
        return type_of(update)
    if not any(key.startswith("$") for key in update):
        return "replacement"
    return sorted(update)


def of_stage(stage: dict) -> dict:
    ((name, argument),) = stage.items()
    if name in FILTER_STAGES:
        return {name: of_filter(argument)}
    if name in NUMBER_STAGES:
        return {name: type_of(argument)}
    return {name: argument}


def statements(command: dict) -> Iterator[tuple[dict, dict]]:
    """(shape, example) of each statement of a command; the example is the command
    with that one statement, to be sent again."""
    name = next(iter(command))
    collection = command[name]
    base = {"command": name, "collection": collection}
    if name in ("update", "delete"):
        field = "updates" if name == "update" else "deletes"
        for statement in command.get(field) or ():
            shape = dict(base, filter=of_filter(statement.get("q", {})))
            if name == "update":
                shape.update(
                    update=of_update(statement.get("u")),
                    upsert=bool(statement.get("upsert")),
                    multi=bool(statement.get("multi")),
                )
            else:
                shape["limit"] = statement.get("limit", 0)
            yield shape, {**{k: v for k, v in command.items() if k != field}, field: [statement]}
        return
    if name == "insert":
        yield (
            base,
            {
                **{k: v for k, v in command.items() if k != "documents"},
                "documents": list(command.get("documents") or ())[:1],
            },
        )
        return
    shape = dict(base)
    if name == "find":
        shape.update(
            filter=of_filter(command.get("filter", {})),
            sort=of_sort(command.get("sort")),
            projection=of_keys(command.get("projection")),
            limit="limit" in command or bool(command.get("singleBatch")),
        )
    elif name == "aggregate":
        shape["pipeline"] = [of_stage(stage) for stage in command.get("pipeline") or ()]
    elif name == "findAndModify":
        shape.update(
            filter=of_filter(command.get("query", {})),
            sort=of_sort(command.get("sort")),
            update=of_update(command.get("update")),
            remove=bool(command.get("remove")),
            upsert=bool(command.get("upsert")),
        )
    elif name == "count":
        shape["filter"] = of_filter(command.get("query", {}))
    elif name == "distinct":
        shape.update(key=command.get("key"), filter=of_filter(command.get("query", {})))
    yield shape, command


def key(shape: dict) -> str:
    """A shape as one line: what the allow-list (tests/query_plans_allowed.py) names."""
    parts = [shape["command"], shape["collection"]]
    for field, value in shape.items():
        if field in ("command", "collection") or value in ([], False, None):
            continue
        if value == {} and field != "filter":
            continue
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        parts.append(text if field == "filter" else f"{field}={text}")
    return " ".join(parts)
