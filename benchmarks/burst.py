"""A burst of requests against a running system (``make run``), end to end.

    .venv/bin/python benchmarks/burst.py --requests 300 --clients 8

Posts the requests concurrently to intake, then waits until reporting has projected
every case opened and every worker SMS sent: the time from the first POST to that
point is the end-to-end time of the burst. Prints POST throughput and latency and
the end-to-end rate. A first measurement, not the benchmark of the performance issue
(which adds fixed-rate load, per-request tracing and the raw broker/store baselines).
"""
import argparse
import concurrent.futures
import json
import time
import uuid
from pathlib import Path

import requests


def request_body(number):
    return {"channel": "phone", "station": ("daxing", "xiaxiang")[number % 2],
            "resident": {"name": "测试居民", "phone": f"139{number:08d}", "categories": ["elderly"]},
            "need": {"type": "home_visit", "description": "探访"}}


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--intake", default="http://127.0.0.1:8001")
    parser.add_argument("--reporting", default="http://127.0.0.1:8004")
    parser.add_argument("--credentials", default="var/dev-credentials.json")
    parser.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args()
    token = json.loads(Path(args.credentials).read_text())["district_admin"]
    headers = {"Authorization": f"Bearer {token}"}

    def figures():
        return requests.get(f"{args.reporting}/v1/reports/summary", headers=headers,
                            timeout=30).json()

    def post(number):
        started = time.monotonic()
        answer = requests.post(f"{args.intake}/v1/requests", json=request_body(number),
                               headers={**headers, "Idempotency-Key": str(uuid.uuid4())},
                               timeout=60)
        return answer.status_code, time.monotonic() - started

    before = figures()
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(args.clients) as pool:
        results = list(pool.map(post, range(args.requests)))
    posting = time.monotonic() - started
    statuses = {}
    for status, _ in results:
        statuses[status] = statuses.get(status, 0) + 1
    latencies = [seconds * 1000 for _, seconds in results]
    print(f"POST {args.requests} with {args.clients} clients: {args.requests / posting:.0f}/s, "
          f"statuses {statuses}, p50 {percentile(latencies, .5):.0f} ms, "
          f"p99 {percentile(latencies, .99):.0f} ms")
    while time.monotonic() - started < args.timeout:
        now = figures()
        opened = now["cases_opened"] - before["cases_opened"]
        sent = now["messages_sent"] - before["messages_sent"]
        if opened >= args.requests and sent >= args.requests:
            elapsed = time.monotonic() - started
            print(f"end to end: {opened} cases opened and {sent} worker SMS projected in "
                  f"{elapsed:.1f} s = {args.requests / elapsed:.0f} requests/s")
            return 0
        time.sleep(1)
    print(f"timed out: {opened} cases opened, {sent} SMS projected")
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
