"""The embedded MongoDB-protocol server (nx-27017) for development, tests and benchmarks:
one way to start it and to know it answers."""

import subprocess
import sys
import time
from pathlib import Path

import pymongo

BINARY = Path(sys.executable).parent / "nx-27017"


def command(port, log_dir, data_dir=None):
    """``data_dir`` None: in memory (gone when it stops); else one file per database."""
    store = ["--data-dir", str(data_dir)] if data_dir else ["--db", "memory"]
    return [
        str(BINARY),
        *store,
        "-p",
        str(port),
        "--log-file",
        str(Path(log_dir) / "nx.log"),
        "--pid-file",
        str(Path(log_dir) / "nx.pid"),
    ]


def answers(uri, timeout_ms=500):
    try:
        with pymongo.MongoClient(uri, serverSelectionTimeoutMS=timeout_ms) as client:
            client.admin.command("ping")
        return True
    except pymongo.errors.PyMongoError:
        return False


def start(port, log_dir, data_dir=None, timeout_s=20):
    """Start it, wait until it answers; returns (uri, process)."""
    # S603 allowed: the arguments are our own (binary path, port, directories), not user input
    process = subprocess.Popen(  # noqa: S603
        command(port, log_dir, data_dir),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    uri = f"mongodb://127.0.0.1:{port}/"
    deadline = time.monotonic() + timeout_s
    while not answers(uri):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"nx-27017 did not answer on port {port} within {timeout_s} s")
        time.sleep(0.1)
    return uri, process
