"""Random ids (UUID version 4) for what is made on the hot paths: events, requests,
the API's request ids, reporting's batches.

``ids.uuid4()`` reads its 16 bytes with ``os.urandom``, which lets go of the GIL for the
``getrandom`` call. In a process whose threads compete for the GIL (gunicorn's threads
recording batches of 100 events, each event and request an id) every id was a hand-off
that could wait out another thread's switch interval (5 ms): py-spy found the intake
API's threads in ``uuid4`` in 19 % of its samples during an alert storm
(docs/performance.md). The same operating-system randomness is read here 4 KiB at a
time: one hand-off per 256 ids. A forked child (gunicorn's workers) starts with an
empty buffer, never its parent's bytes.
"""

import os
import threading
import uuid

_CHUNK = 4096  # bytes read at a time: 256 ids
_lock = threading.Lock()
_buffer = b""
_offset = 0


def _forget() -> None:
    global _buffer, _offset
    _buffer, _offset = b"", 0


os.register_at_fork(after_in_child=_forget)


def uuid4() -> uuid.UUID:
    """A random UUID, as ``ids.uuid4()`` makes one (the same source and version bits)."""
    global _buffer, _offset
    with _lock:
        if _offset + 16 > len(_buffer):
            _buffer, _offset = os.urandom(_CHUNK), 0
        raw = _buffer[_offset : _offset + 16]
        _offset += 16
    return uuid.UUID(bytes=raw, version=4)


def new_id() -> str:
    """``str(uuid4())``: the canonical 36-character form every id of the system has."""
    return str(uuid4())
