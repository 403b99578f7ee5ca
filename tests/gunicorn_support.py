"""The four HTTP APIs served by gunicorn, each its own process, as in production: what
gunicorn does and a WSGI test server does not (chunked bodies, odd methods, headers) is
tested through them.

A plugin of the root conftest: ``gunicorn_apis`` seeds the same Daxing records as
tests/security_support.py and points ``Apis.call`` at the gunicorn processes; each
process's log is a file to read (``apis.logs[name]``).
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from services.common.config import SERVICES
from tests.support import free_port, wait_until

ROOT = Path(__file__).resolve().parent.parent
RECEIPT_TOKEN = "receipts-" + "r" * 20


def _up(base):
    try:
        return requests.get(base + "/healthz", timeout=2).ok
    except requests.RequestException:  # not listening yet, or still starting
        return False


@pytest.fixture
def gunicorn_apis(apis_with, monkeypatch, tmp_path):
    """The seeded APIs, their calls going to gunicorn processes; ``apis.logs[name]`` is the
    path of a process's log (stderr)."""
    monkeypatch.setenv("SHEGONG_SMS_RECEIPT_TOKEN", RECEIPT_TOKEN)
    apis = apis_with()
    apis.receipt_token = RECEIPT_TOKEN
    processes, apis.logs = [], {}
    try:
        for name in SERVICES:
            port = free_port()
            apis.logs[name] = tmp_path / f"gunicorn-{name}.log"
            with open(apis.logs[name], "wb") as log:
                processes.append(
                    subprocess.Popen(
                        [
                            sys.executable,
                            "-m",
                            "gunicorn",
                            f"services.{name}.api:create_app()",
                            "--bind",
                            f"127.0.0.1:{port}",
                            "--workers",
                            "1",
                            "--no-control-socket",
                        ],
                        cwd=ROOT,
                        env=dict(os.environ),
                        stdout=subprocess.DEVNULL,
                        stderr=log,
                    )
                )
            apis.base[name] = f"http://127.0.0.1:{port}"
        for name in SERVICES:
            wait_until(lambda: _up(apis.base[name]), 60, message=f"gunicorn serving {name}")
        yield apis
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
