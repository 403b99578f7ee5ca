"""CPU and peak resident memory per process of the system, sampled while a phase runs."""

import threading
import time

import psutil


def _tree(pid):
    try:
        root = psutil.Process(pid)
        return [root] + root.children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def broker_pids():
    """The shared RabbitMQ node (read only: its CPU is every engineer's traffic too)."""
    return [p.pid for p in psutil.process_iter(["name"]) if p.info["name"] == "beam.smp"]


def cpu_seconds(pids):
    """The CPU seconds (user and system) the processes ``pids`` and their children have
    used so far."""
    total = 0.0
    for pid in pids:
        for process in _tree(pid):
            try:
                times = process.cpu_times()
                total += times.user + times.system
            except psutil.NoSuchProcess:
                pass
    return total


class Sampler:
    """``named``: name -> root pid; a process tree counts as one (gunicorn's master and
    worker): CPU is summed, peak RSS is of its largest single process."""

    def __init__(self, named, interval_s=0.5):
        self.named, self.interval_s = dict(named), interval_s
        self.peak_rss = {}
        self.cpu_start = {}
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)

    def _cpu(self, name):
        return cpu_seconds([self.named[name]])

    def _sample(self):
        while not self.stopping.is_set():
            for name, pid in self.named.items():
                for process in _tree(pid):
                    try:
                        rss = process.memory_info().rss
                    except psutil.NoSuchProcess:
                        continue
                    self.peak_rss[name] = max(self.peak_rss.get(name, 0), rss)
            time.sleep(self.interval_s)

    def start(self):
        self.started = time.monotonic()
        self.load_start = psutil.getloadavg()
        self.cpu_start = {name: self._cpu(name) for name in self.named}
        self.thread.start()
        return self

    def stop(self):
        self.stopping.set()
        self.thread.join()
        elapsed = time.monotonic() - self.started
        return {
            "seconds": round(elapsed, 1),
            "loadavg": [round(x, 2) for x in psutil.getloadavg()],
            "processes": {
                name: {
                    "cpu_percent": round(
                        100 * (self._cpu(name) - self.cpu_start[name]) / elapsed, 1
                    ),
                    "peak_rss_mb": round(self.peak_rss.get(name, 0) / 2**20, 1),
                }
                for name in self.named
            },
        }
