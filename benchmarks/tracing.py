"""Per-request timing, joined by ids at the end: what was seen, and when.

Three observers run beside the load, each on its own thread, each cheap for the system:
- a tap queue on the broker (exclusive, auto-deleted) bound to ``case.assigned`` and
  ``message.sent``: when casework published the assignment (case id -> request id, the
  event's correlation id) and which message carried the worker's SMS;
- the SMS sink (``var/sms.jsonl``), tailed: when the worker's SMS was recorded (by case id);
- reporting's current projection (``facts_v<N>``), polled by fact id
  (``message:<message id>``) for the messages not yet seen there:
  when the projection had the SMS (the last fact of a request's chain).
"""

import json
import threading
import time
import uuid

from kombu import Connection, Consumer, Queue, binding
from pymongo import MongoClient

from services.common.contracts import CASE_ASSIGNED, MESSAGE_SENT
from services.common.messaging import event_exchange
from services.reporting.store import ReportStore


class Tracer:
    def __init__(self, amqp_uri, mongo_uri, reporting_db, sms_file, poll_s=0.1):
        self.amqp_uri, self.sms_file, self.poll_s = amqp_uri, sms_file, poll_s
        self.reports = ReportStore(MongoClient(mongo_uri)[reporting_db])
        self.assigned = {}  # case_id -> (t, request_id)
        self.sms = {}  # case_id -> t (the worker's SMS line)
        self.sent = {}  # message_id -> (t, request_id, case_id)
        self.projected = {}  # message_id -> t
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.interruptions = []
        self.ready = threading.Event()
        self.threads = [
            threading.Thread(target=target, daemon=True)
            for target in (self._tap, self._tail, self._poll)
        ]

    def start(self):
        for thread in self.threads:
            thread.start()
        if not self.ready.wait(30):
            raise RuntimeError("the tap queue did not start")

    def stop(self):
        self.stopping.set()
        for thread in self.threads:
            thread.join(10)

    # -- observers ---------------------------------------------------------------------
    def _tap(self):
        """Observe the events; after a lost connection (a broker restart), tap again: what
        was published meanwhile is unseen (reported as untraced), nothing else is lost."""
        while not self.stopping.is_set():
            try:
                self._tap_once()
            except Exception as exc:  # noqa: BLE001 - keep observing
                self.interruptions.append(f"tap: {type(exc).__name__}: {exc}"[:200])
                time.sleep(1)

    def _tap_once(self):
        # one queue, two bindings (two server-named queues confuse kombu's consumer)
        queues = [
            Queue(
                f"bench.tap.{uuid.uuid4().hex[:8]}",
                exclusive=True,
                auto_delete=True,
                durable=False,
                bindings=[
                    binding(event_exchange(contract.producer), routing_key=contract.type)
                    for contract in (CASE_ASSIGNED, MESSAGE_SENT)
                ],
            )
        ]
        with Connection(self.amqp_uri) as connection:
            with Consumer(
                connection.channel(),
                queues,
                on_message=self._seen,
                no_ack=True,
                prefetch_count=1000,
            ):
                self.ready.set()
                while not self.stopping.is_set():
                    try:
                        connection.drain_events(timeout=0.2)
                    except TimeoutError:  # nothing this time; a lost connection raises
                        pass

    def _seen(self, message):
        now = time.monotonic()
        event = json.loads(message.body)
        data = event["data"]
        with self.lock:
            if event["type"] == CASE_ASSIGNED.type:
                self.assigned.setdefault(data["case_id"], (now, event["correlationid"]))
            elif data["recipient_role"] == "worker" and data["channel"] == "sms":
                self.sent.setdefault(
                    data["message_id"], (now, event["correlationid"], data["case_id"])
                )

    def _tail(self):
        offset = 0
        while not self.stopping.is_set():
            try:
                with open(self.sms_file, "rb") as sink:
                    sink.seek(offset)
                    chunk = sink.read()
            except FileNotFoundError:
                chunk = b""
                time.sleep(0.02)
                continue
            complete = chunk[: chunk.rfind(b"\n") + 1]
            offset += len(complete)
            now = time.monotonic()
            for line in complete.splitlines():
                entry = json.loads(line)
                if entry.get("recipient_role") == "worker" and entry.get("case_id"):
                    with self.lock:
                        self.sms.setdefault(entry["case_id"], now)
            time.sleep(0.02)

    def _poll(self):
        facts = None
        while not self.stopping.is_set():
            with self.lock:
                # The oldest first (projections come roughly in order), at most 50 per
                # query: on nx-27017 an $in of 500 ids costs the store ~30 ms, which at
                # 10 polls a second took a third of a core from the system under test.
                waiting = [mid for mid in self.sent if mid not in self.projected][:50]
            if waiting:
                try:
                    # the version does not change during a run (no rebuild): read it once
                    if facts is None:
                        facts = self.reports.facts(self.reports.versions()["current"])
                    found = [
                        {"_id": document["_id"].partition(":")[2]}
                        for document in facts.find(
                            {"_id": {"$in": [f"message:{m}" for m in waiting]}}, {"_id": 1}
                        )
                    ]
                except Exception as exc:  # noqa: BLE001 - the store is busy or away: again
                    self.interruptions.append(f"poll: {type(exc).__name__}"[:200])
                    found = []
                now = time.monotonic()
                with self.lock:
                    for document in found:
                        self.projected.setdefault(document["_id"], now)
            time.sleep(self.poll_s)

    # -- results -----------------------------------------------------------------------
    def timeline(self):
        """request_id -> {assigned, sms, projected} (monotonic seconds; missing if unseen)."""
        with self.lock:
            traces = {}
            for case_id, (t, request_id) in self.assigned.items():
                traces.setdefault(request_id, {})["assigned"] = t
                if case_id in self.sms:
                    traces[request_id]["sms"] = self.sms[case_id]
            for message_id, (t, request_id, _case_id) in self.sent.items():
                trace = traces.setdefault(request_id, {})
                trace.setdefault("sent", t)
                if message_id in self.projected:
                    trace["projected"] = self.projected[message_id]
            return traces

    def done(self, request_ids):
        """How many of these requests have reached the projection."""
        traces = self.timeline()
        return sum(1 for rid in request_ids if "projected" in traces.get(rid, {}))
