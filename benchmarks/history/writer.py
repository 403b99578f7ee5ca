"""The history's writes: per collection, unordered ``insert_many`` batches of ``BATCH``
documents, sent by a thread of their own so that the store writes one batch while the
next requests' lives are made."""
import queue
import threading
import time
from collections import Counter

from pymongo import ReplaceOne

BATCH = 1000


class Writer:
    def __init__(self, databases, say=print):
        self.databases, self.say = databases, say
        self.buffers, self.counts = {}, Counter()
        self.queue = queue.Queue(maxsize=8)
        self.error = None
        self.busy_s = 0.0  # the store's time: what the writes took, measured
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def add(self, service, collection, documents, replace=False):
        """Queue documents for ``<prefix>_<service>.<collection>``; ``replace``: written
        whole by ``_id`` (upserts), for documents a running service may have made."""
        key = (service, collection, replace)
        buffer = self.buffers.setdefault(key, [])
        buffer.extend(documents)
        self.counts[f"{service}.{collection}"] += len(documents)
        while len(buffer) >= BATCH:
            self._send(key, buffer[:BATCH])
            del buffer[:BATCH]

    def _send(self, key, documents):
        if self.error is not None:
            raise self.error
        self.queue.put((key, documents))

    def close(self):
        for key, buffer in self.buffers.items():
            if buffer:
                self._send(key, buffer)
        self.buffers = {}
        self.queue.put(None)
        self.thread.join()
        if self.error is not None:
            raise self.error

    def _run(self):
        while True:
            item = self.queue.get()
            if item is None:
                return
            if self.error is not None:
                continue
            (service, name, replace), documents = item
            collection = self.databases[service][name]
            began = time.monotonic()
            try:
                if replace:
                    collection.bulk_write([ReplaceOne({"_id": d["_id"]}, d, upsert=True)
                                           for d in documents], ordered=False)
                else:
                    collection.insert_many(documents, ordered=False)
            except Exception as exc:  # noqa: BLE001 - raised in the builder's thread
                self.error = exc
            self.busy_s += time.monotonic() - began
