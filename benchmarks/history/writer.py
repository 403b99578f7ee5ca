"""The history's writes, per database: the documents made by the services' code (dicts)
and the copies of the template block (benchmarks/history/clone.py), then reporting's
daily figures, computed from every fact written (``domain_daily.dailies``, as a
rebuild computes them).

Two ways to the store, the same documents:

- ``files``: the embedded store (nx-27017) started on a data directory by the caller:
  each database's SQLite file is written directly, by one process per database (the
  four files at once on the machine's cores), in the table nx-27017 made for each
  collection (created through it first) and in its row format (``_id`` and the JSON
  text of the document). nx-27017 inserts one document per SQLite transaction and
  serialises its Python work: ~4,000-5,700 documents/s at best through the wire, ten
  minutes for a history of 100,000 requests (measured, see docs/performance.md);
- the wire (any other store, e.g. a real MongoDB): unordered ``insert_many`` batches of
  ``BATCH`` documents.

Indexes are built afterwards, through the store, by the services' own
``ensure_indexes``.
"""

import functools
import json
import multiprocessing
import os
import sqlite3
import traceback
from collections import Counter

from benchmarks.history.clone import text_of
from services.reporting.domain import daily as domain_daily
from services.reporting.domain.daily import contributions
from services.reporting.store import _packed

BATCH = 5000
COMMIT_ROWS = 200_000


class Job:
    """What one collection gets: ``plain`` documents and ``templates`` (documents of
    the template block) written once per copy."""

    def __init__(self):
        self.plain, self.templates = [], []


class SqliteSink:
    def __init__(self, path):
        self.connection = sqlite3.connect(path, timeout=300, isolation_level=None)
        # A history is written once, before anything runs on it: no sync per commit
        # (the checkpoint at the end writes it into the file), a cache that holds the
        # _id index being filled in random order.
        self.connection.execute("PRAGMA synchronous = OFF")
        self.connection.execute("PRAGMA cache_size = -400000")
        self.connection.execute("BEGIN IMMEDIATE")
        self.pending = 0

    def put(self, name, rows):
        """``rows``: [(_id, JSON text)]."""
        # the collection's name is the builder's own, never input
        self.connection.executemany(
            f'INSERT INTO "{name}"(_id, data) VALUES (?, ?)',  # noqa: S608
            rows,
        )
        self.pending += len(rows)
        if self.pending >= COMMIT_ROWS:
            self.connection.execute("COMMIT")
            self.connection.execute("BEGIN IMMEDIATE")
            self.pending = 0

    def close(self):
        self.connection.execute("COMMIT")
        self.connection.execute("PRAGMA synchronous = FULL")
        self.connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # into the file, synced
        self.connection.close()


class WireSink:
    def __init__(self, database):
        self.database = database

    def put(self, name, rows):
        documents = [json.loads(text) for _, text in rows]
        for start in range(0, len(documents), BATCH):
            self.database[name].insert_many(documents[start : start + BATCH], ordered=False)

    def close(self):
        pass


def fill(sink, jobs, cloner, copies):
    """Write ``jobs`` {collection: Job} into ``sink``; ``copies``: the copy numbers of
    the template. Returns documents per collection."""
    counts = Counter()
    for name, job in jobs.items():
        rows = [(str(d["_id"]), text_of(d)) for d in job.plain]
        for start in range(0, len(rows), BATCH):
            sink.put(name, rows[start : start + BATCH])
        counts[name] += len(rows)
    compiled = {
        name: [cloner.document(d) for d in job.templates]
        for name, job in jobs.items()
        if job.templates
    }
    keys = {
        key
        for documents in compiled.values()
        for document in documents
        for key in document[1] + document[3]
    }
    for copy in copies:
        table = cloner.table(copy, keys)
        for name, documents in compiled.items():
            rows = [cloner.render(document, table) for document in documents]
            sink.put(name, rows)
            counts[name] += len(rows)
    sink.close()
    return counts


def daily_documents(facts, cloner, copies):
    """reporting's daily figures (as stored) of every fact written: ``facts``, the Job
    of the facts collection, and its templates' copies."""
    parts = [item for fact in facts.plain for item in contributions(fact).items()]
    template = [item for fact in facts.templates for item in contributions(fact).items()]
    for copy in copies:
        parts += copied_parts(template, cloner, copy)
    return [_packed(d) for d in daily_figures(parts)]


def copied_parts(parts, cloner, copy):
    """The template facts' daily contributions as a copy's facts make them: on the
    shifted day, the copy's residents in the samples (the durations are the same)."""
    days, copied = {}, []
    for (station, day), part in parts:
        if day not in days:
            days[day] = cloner.day(copy, day)
        samples = {
            name: [cloner.ref(copy, v) if v in cloner.refs else v for v in values]
            for name, values in part["samples"].items()
        }
        copied.append(((station, days[day]), {"counts": part["counts"], "samples": samples}))
    return copied


def daily_figures(parts):
    """reporting's daily figures of these contributions, as ``domain_daily.dailies``
    builds them from the facts (checked equal by tests/integration/test_bench_history)."""
    return domain_daily.dailies_of(parts)


def _write_file(path, collections, cloner, copies):
    return dict(fill(SqliteSink(path), collections, cloner, copies))


def _child(results, service, work):
    try:
        results.put((service, work(), None))
        code = 0
    except BaseException:  # noqa: BLE001 - reported to the parent, which raises
        results.put((service, None, traceback.format_exc()))
        code = 1
    results.close()
    results.join_thread()  # the result is sent before the child ends
    os._exit(code)  # nothing of the parent's (its store client) runs in the child


def write(databases, files, jobs, cloner, copies, daily):
    """``jobs``: {service: {collection: Job}}; ``files``: the embedded store's data
    directory (None: through the wire); ``daily``: (daily figures collection, facts
    collection) of reporting. Returns documents per 'service.collection'."""
    for service, collections in jobs.items():  # the store makes each collection's table
        existing = set(databases[service].list_collection_names())
        for name in [*collections, *([daily[0]] if service == "reporting" else [])]:
            if name not in existing:
                databases[service].create_collection(name)
    counts = Counter()
    figures = lambda: daily_documents(jobs["reporting"][daily[1]], cloner, copies)  # noqa: E731
    if files is None:
        for service, collections in jobs.items():
            done = fill(WireSink(databases[service]), collections, cloner, copies)
            counts.update({f"{service}.{name}": n for name, n in done.items()})
        made = figures()
    else:
        # one process per database file, and one more for the daily figures (the
        # event store and facts make reporting's file the longest to write)
        context = multiprocessing.get_context("fork")
        results = context.Queue()
        work = {
            service: functools.partial(
                _write_file,
                os.path.join(files, f"{databases[service].name}.db"),
                collections,
                cloner,
                copies,
            )
            for service, collections in jobs.items()
        }
        work["daily"] = figures
        children = [
            context.Process(target=_child, args=(results, name, job)) for name, job in work.items()
        ]
        for child in children:
            child.start()
        failures, made = [], []
        for _ in children:
            service, done, failure = results.get(timeout=3600)
            if failure:
                failures.append(f"{service}: {failure}")
            elif service == "daily":
                made = done
            else:
                counts.update({f"{service}.{name}": n for name, n in done.items()})
        for child in children:
            child.join()
        if failures:
            raise RuntimeError("the history's writes failed:\n" + "\n".join(failures))
    WireSink(databases["reporting"]).put(daily[0], [(d["_id"], text_of(d)) for d in made])
    counts[f"reporting.{daily[0]}"] = len(made)
    return counts
