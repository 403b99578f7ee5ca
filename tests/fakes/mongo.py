"""An in-memory database for the service-layer unit tests: the real stores (CaseStore,
NotificationStore) run on it with no server, so a service-layer unit test exercises the
handlers and their store together in milliseconds.

It answers the pymongo calls the stores make, as MongoDB would for these shapes:
filters of equality, ``$in``, ``$nin``, ``$ne``, ``$exists`` and the four comparisons
(dotted paths included); updates of ``$set``, ``$setOnInsert``, ``$unset``, ``$inc`` and
``$max``, with upserts; sorts, limits and projections; unique indexes (a second document
with the same key is a duplicate key, 11000). What it cannot answer (an aggregation, an
operator it does not know) fails loudly rather than answering wrong: the store commands
themselves are tested on the real store (tests/integration)."""

import copy
import itertools
from dataclasses import dataclass

from pymongo import DeleteOne, InsertOne, ReplaceOne, UpdateMany, UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError

DUPLICATE_KEY = 11000
_MISSING = object()


def _get(document, path):
    value = document
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _set(document, path, value):
    *parents, last = path.split(".")
    for part in parents:
        document = document.setdefault(part, {})
    document[last] = value


def _unset(document, path):
    *parents, last = path.split(".")
    for part in parents:
        document = document.get(part, {})
    document.pop(last, None)


def _compare(value, operator, operand):
    if value is _MISSING or value is None:
        return False
    return {
        "$gt": value > operand,
        "$gte": value >= operand,
        "$lt": value < operand,
        "$lte": value <= operand,
    }[operator]


def _matches_condition(value, condition):
    if isinstance(condition, dict) and condition and all(k.startswith("$") for k in condition):
        for operator, operand in condition.items():
            if operator == "$in":
                if not any(_equals(value, candidate) for candidate in operand):
                    return False
            elif operator == "$nin":
                if any(_equals(value, candidate) for candidate in operand):
                    return False
            elif operator == "$ne":
                if _equals(value, operand):
                    return False
            elif operator == "$exists":
                if (value is not _MISSING) != bool(operand):
                    return False
            elif operator in ("$gt", "$gte", "$lt", "$lte"):
                if not _compare(value, operator, operand):
                    return False
            else:
                raise NotImplementedError(f"the in-memory database has no {operator}")
        return True
    return _equals(value, condition)


def _equals(value, expected):
    if value is _MISSING:
        return expected is None
    if isinstance(value, list) and not isinstance(expected, list):
        return expected in value  # an array field matches one of its elements
    return value == expected


def matches(document, query):
    for key, condition in query.items():
        if key == "$or":
            if not any(matches(document, part) for part in condition):
                return False
        elif key == "$and":
            if not all(matches(document, part) for part in condition):
                return False
        elif key.startswith("$"):
            raise NotImplementedError(f"the in-memory database has no {key}")
        elif not _matches_condition(_get(document, key), condition):
            return False
    return True


def _project(document, projection):
    if not projection:
        return copy.deepcopy(document)
    if isinstance(projection, (list, tuple)):
        projection = dict.fromkeys(projection, 1)
    included = {key for key, on in projection.items() if on and key != "_id"}
    if included:
        found = {"_id": document["_id"]} if projection.get("_id", 1) else {}
        for key in included:
            value = _get(document, key)
            if value is not _MISSING:
                _set(found, key, copy.deepcopy(value))
        return found
    found = copy.deepcopy(document)
    for key, on in projection.items():
        if not on:
            _unset(found, key)
    return found


def _sort_key(value):
    # None and missing values first, as MongoDB sorts them ascending
    return (0, 0) if value is _MISSING or value is None else (1, value)


@dataclass
class Result:
    matched_count: int = 0
    modified_count: int = 0
    upserted_id: object = None
    deleted_count: int = 0
    inserted_count: int = 0


class Cursor(list):
    """A list that also answers the cursor calls the stores make."""

    def sort(self, key_or_list, direction=None):  # type: ignore[override]
        keys = [(key_or_list, direction or 1)] if isinstance(key_or_list, str) else key_or_list
        for field, order in reversed(list(keys)):
            super().sort(key=lambda document: _sort_key(_get(document, field)), reverse=order < 0)
        return self

    def limit(self, count):
        return Cursor(self[:count] if count else self)


class Collection:
    def __init__(self, name, database=None):
        self.name = name
        self.database = database
        self.documents: dict = {}
        self.unique: list[str] = []
        self.indexes: dict = {"_id_": [("_id", 1)]}
        self._ids = itertools.count(1)

    # -- indexes --------------------------------------------------------------------
    def create_index(self, keys, unique=False, **_options):
        if unique and isinstance(keys, str) and keys != "_id":
            self.unique.append(keys)
        key = [(keys, 1)] if isinstance(keys, str) else [tuple(part) for part in keys]
        name = "_".join(f"{field}_{direction}" for field, direction in key)
        self.indexes[name] = key
        return name

    def index_information(self):
        return {name: {"key": list(key)} for name, key in self.indexes.items()}

    def drop_index(self, name):
        del self.indexes[name]

    def _check_unique(self, document, replacing=None):
        if document["_id"] in self.documents and document["_id"] != replacing:
            raise DuplicateKeyError(f"duplicate _id {document['_id']}", DUPLICATE_KEY)
        for field in self.unique:
            value = _get(document, field)
            if value is _MISSING:
                continue
            for other in self.documents.values():
                if other["_id"] not in (document["_id"], replacing) and _get(other, field) == value:
                    raise DuplicateKeyError(f"duplicate {field} {value!r}", DUPLICATE_KEY)

    # -- reads ----------------------------------------------------------------------
    def find(self, query=None, projection=None, sort=None, limit=0, **_options):
        found = Cursor(
            document for document in self.documents.values() if matches(document, query or {})
        )
        if sort:
            found.sort(sort)
        if limit:
            found = found.limit(limit)
        return Cursor(_project(document, projection) for document in found)

    def find_one(self, query=None, projection=None, sort=None, **_options):
        found = self.find(query, projection, sort=sort, limit=1)
        return found[0] if found else None

    def count_documents(self, query, **_options):
        return len(self.find(query))

    # -- writes ---------------------------------------------------------------------
    def insert_one(self, document):
        document.setdefault("_id", f"oid-{next(self._ids)}")
        self._check_unique(document)
        self.documents[document["_id"]] = copy.deepcopy(document)
        return Result(inserted_count=1)

    def insert_many(self, documents, ordered=True):
        errors = []
        for index, document in enumerate(documents):
            try:
                self.insert_one(document)
            except DuplicateKeyError:
                errors.append({"index": index, "code": DUPLICATE_KEY})
                if ordered:
                    break
        if errors:
            raise BulkWriteError({"writeErrors": errors})
        return Result(inserted_count=len(documents))

    def _apply(self, document, update, inserting):
        changed = copy.deepcopy(document)
        for operator, fields in update.items():
            for path, value in fields.items():
                current = _get(changed, path)
                if operator == "$set" or (operator == "$setOnInsert" and inserting):
                    _set(changed, path, copy.deepcopy(value))
                elif operator == "$setOnInsert":
                    continue
                elif operator == "$unset":
                    _unset(changed, path)
                elif operator == "$inc":
                    _set(changed, path, (0 if current is _MISSING else current) + value)
                elif operator == "$max":
                    if current is _MISSING or current is None or value > current:
                        _set(changed, path, value)
                else:
                    raise NotImplementedError(f"the in-memory database has no {operator}")
        return changed

    def _update(self, query, update, upsert, many):
        targets = [d for d in self.documents.values() if matches(d, query)]
        if not many:
            targets = targets[:1]
        result = Result(matched_count=len(targets))
        for document in targets:
            changed = self._apply(document, update, inserting=False)
            if changed != document:
                self._check_unique(changed, replacing=document["_id"])
                self.documents[document["_id"]] = changed
                result.modified_count += 1
        if not targets and upsert:
            seed = {k: v for k, v in query.items() if not k.startswith("$") and "." not in k}
            seed = {k: v for k, v in seed.items() if not isinstance(v, dict)}
            document = self._apply(seed, update, inserting=True)
            document.setdefault("_id", f"oid-{next(self._ids)}")
            self._check_unique(document)
            self.documents[document["_id"]] = document
            result.upserted_id = document["_id"]
        return result

    def update_one(self, query, update, upsert=False, **_options):
        return self._update(query, update, upsert, many=False)

    def update_many(self, query, update, upsert=False, **_options):
        return self._update(query, update, upsert, many=True)

    def replace_one(self, query, replacement, upsert=False, **_options):
        found = self.find_one(query)
        if found is None:
            if not upsert:
                return Result()
            document = {**replacement}
            document.setdefault("_id", query.get("_id", f"oid-{next(self._ids)}"))
            self._check_unique(document)
            self.documents[document["_id"]] = copy.deepcopy(document)
            return Result(upserted_id=document["_id"])
        document = {**replacement, "_id": found["_id"]}
        self._check_unique(document, replacing=found["_id"])
        self.documents[found["_id"]] = copy.deepcopy(document)
        return Result(matched_count=1, modified_count=int(found != document))

    def delete_one(self, query):
        found = self.find_one(query, {"_id": 1})
        if found is not None:
            del self.documents[found["_id"]]
        return Result(deleted_count=int(found is not None))

    def delete_many(self, query):
        ids = [d["_id"] for d in self.find(query, {"_id": 1})]
        for document_id in ids:
            del self.documents[document_id]
        return Result(deleted_count=len(ids))

    def bulk_write(self, operations, ordered=True):
        total, errors = Result(), []
        for index, operation in enumerate(operations):
            spec = operation._doc if hasattr(operation, "_doc") else None
            try:
                if isinstance(operation, InsertOne):
                    self.insert_one(spec)
                    total.inserted_count += 1
                    continue
                if isinstance(operation, (UpdateOne, UpdateMany)):
                    done = self._update(
                        operation._filter,
                        spec,
                        bool(operation._upsert),
                        many=isinstance(operation, UpdateMany),
                    )
                elif isinstance(operation, ReplaceOne):
                    done = self.replace_one(operation._filter, spec, bool(operation._upsert))
                elif isinstance(operation, DeleteOne):
                    done = self.delete_one(operation._filter)
                else:
                    raise NotImplementedError(f"the in-memory database has no {operation!r}")
            except DuplicateKeyError:
                errors.append({"index": index, "code": DUPLICATE_KEY})
                if ordered:
                    break
                continue
            total.matched_count += done.matched_count
            total.modified_count += done.modified_count
            total.deleted_count += done.deleted_count
        if errors:
            raise BulkWriteError({"writeErrors": errors})
        return total

    def aggregate(self, *_args, **_kwargs):
        raise NotImplementedError("the in-memory database has no aggregation")


class Database(dict):
    """Collections by name, made on first use, as pymongo's Database gives them."""

    name = "memory"

    def __missing__(self, name):
        collection = self[name] = Collection(name, self)
        return collection

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return self[name]

    def list_collection_names(self):
        return list(self)
