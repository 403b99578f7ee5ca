"""The writers' shared fast path (group_commit.GroupPublish) holds no caller for long when
the broker is slow to confirm (a node frozen, a quorum queue electing its leader): the
APIs' threads are its callers, and /healthz needs one of them. Publishing itself is
tested on the real broker and cluster (tests/chaos/test_cluster_chaos.py); here the
relay is the one double of it, slowed down."""

import threading
import time

from services.common.group_commit import GroupPublish
from tests.fakes.relay import RecordingRelay


class SlowRelay(RecordingRelay):
    """Its first batch takes ``slow_s``, as when no queue leader confirms; then quick."""

    def __init__(self, slow_s):
        super().__init__()
        self.slow_s = slow_s

    def publish_now_many(self, name, documents):
        if not self.batches:
            time.sleep(self.slow_s)
        return super().publish_now_many(name, documents)


def document(number):
    return {"_id": f"r{number}", "last_seq": 1, "outbox": [{"id": f"e{number}", "sequence": 1}]}


def test_callers_wait_at_most_a_moment_and_a_slow_leader_hands_the_rest_to_the_relay():
    relay = SlowRelay(slow_s=2.0)
    shared = GroupPublish(relay, wait_s=0.3)
    took = {}

    def call(number):
        started = time.monotonic()
        shared.publish_now("requests", document(number))
        took[number] = time.monotonic() - started

    leader = threading.Thread(target=call, args=(0,))
    leader.start()
    time.sleep(0.1)  # the leader is in its slow batch
    others = [threading.Thread(target=call, args=(n,)) for n in (1, 2, 3)]
    for thread in others:
        thread.start()
    for thread in others:
        thread.join(10)
    assert all(took[n] < 1.0 for n in (1, 2, 3)), took  # not the leader's 2 s
    leader.join(10)
    # the slow leader published its own batch, then stopped: the others' documents are
    # left to the relay's sweep (safe in their documents), not published by it later
    assert [d["_id"] for d in relay.documents] == ["r0"]
    # the next caller leads afresh, at once
    started = time.monotonic()
    assert shared.publish_now("requests", document(4)) == 1
    assert time.monotonic() - started < 0.5
    assert [d["_id"] for d in relay.documents] == ["r0", "r4"]
