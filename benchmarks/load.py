"""The load: POSTs to intake at a fixed rate (open loop) or as fast as ``clients``
threads can (closed loop), each a distinct resident, as a station's client sends them
(with an Idempotency-Key)."""

import threading
import time
import uuid
from dataclasses import dataclass, field

import requests

STATIONS = ("daxing", "xiaxiang")


def request_body(run, number):
    return {
        "channel": "phone",
        "station": STATIONS[number % 2],
        "resident": {
            "name": f"压测居民{number:05d}",
            "phone": f"139{(run * 100000 + number) % 10**8:08d}",
            "categories": ["elderly"],
        },
        "need": {"type": "home_visit", "description": "性能测试：探访"},
    }


@dataclass
class Posted:
    request_id: str
    started: float
    answered: float
    status: int


@dataclass
class LoadResult:
    posted: list = field(default_factory=list)
    failures: dict = field(default_factory=dict)  # status or error -> count
    lag_s: float = 0.0  # open loop: how far behind its schedule the load fell, at most
    started: float = 0.0
    ended: float = 0.0

    def accepted(self):
        return [p for p in self.posted if p.status == 202]


class Load:
    def __init__(self, url, token, run, keyed=True):
        self.url, self.run, self.keyed = url, run, keyed
        self.headers = {"Authorization": f"Bearer {token}"}
        self._number = iter(range(10**9))
        self._lock = threading.Lock()
        self._local = threading.local()

    def _post(self, result):
        with self._lock:
            number = next(self._number)
        session = getattr(self._local, "session", None) or requests.Session()
        self._local.session = session
        headers = dict(self.headers)
        if self.keyed:
            headers["Idempotency-Key"] = str(uuid.uuid4())
        started = time.monotonic()
        try:
            answer = session.post(
                f"{self.url}/v1/requests",
                json=request_body(self.run, number),
                headers=headers,
                timeout=60,
            )
            status, request_id = answer.status_code, answer.json().get("request_id")
        except (requests.RequestException, ValueError) as exc:
            status, request_id = type(exc).__name__, None
        answered = time.monotonic()
        with self._lock:
            if status == 202:
                result.posted.append(Posted(request_id, started, answered, status))
            else:
                result.failures[str(status)] = result.failures.get(str(status), 0) + 1

    def fixed_rate(self, rate, seconds, threads=32):
        """Open loop: request i is due at start + i/rate, whatever the answers take."""
        result = LoadResult(started=time.monotonic())
        total = int(rate * seconds)
        tickets = iter(range(total))

        def client():
            while True:
                with self._lock:
                    number = next(tickets, None)
                if number is None:
                    return
                due = result.started + number / rate
                wait = due - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                else:
                    result.lag_s = max(result.lag_s, -wait)
                self._post(result)

        self._run(client, threads)
        result.ended = time.monotonic()
        return result

    def max_rate(self, seconds, clients=16):
        """Closed loop: ``clients`` threads post back to back for ``seconds``."""
        result = LoadResult(started=time.monotonic())
        deadline = result.started + seconds

        def client():
            while time.monotonic() < deadline:
                self._post(result)

        self._run(client, clients)
        result.ended = time.monotonic()
        return result

    @staticmethod
    def _run(client, count):
        workers = [threading.Thread(target=client, daemon=True) for _ in range(count)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
