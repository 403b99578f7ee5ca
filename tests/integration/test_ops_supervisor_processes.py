"""make run's supervisor with real processes: a killed one comes back while the others
keep running, a crash-looping one is reported and not restarted in a hot loop, and a
stop ends every process (SIGKILL for one that ignores SIGTERM), its children too."""

import json
import os
import signal
import sys
import threading
import time

import pytest

from deploy.supervisor import Policy, Spec, Supervisor
from tests.support import wait_until

SLEEPER = "import time\nwhile True: time.sleep(0.1)"
STUBBORN = (
    "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "open('ready', 'w').close()\nwhile True: time.sleep(0.1)"
)
# a parent whose child (in its process group) would outlive it, as gunicorn's workers do
PARENT = (
    "import subprocess, sys, time\n"
    "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
    "open('child.pid', 'w').write(str(child.pid))\nwhile True: time.sleep(0.1)"
)
FAST = Policy(initial_s=0.05, max_s=0.5, stable_s=30, loop_crashes=3, loop_window_s=30)


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (not yet reaped by its new parent) counts as gone
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


@pytest.fixture
def supervised(tmp_path):
    lines, stop = [], threading.Event()
    supervisor = Supervisor(FAST, say=lines.append, state_file=tmp_path / "processes.json")

    def start(name, code, **spec):
        return supervisor.start(
            Spec(name, [sys.executable, "-c", code], dict(os.environ), cwd=tmp_path, **spec)
        )

    thread = threading.Thread(target=supervisor.run, args=(stop.is_set, 0.02), daemon=True)
    yield supervisor, start, lines, thread
    stop.set()
    if thread.is_alive():
        thread.join(5)
    supervisor.stop(timeout=2)


def test_a_killed_process_comes_back_and_the_others_keep_running(supervised, tmp_path):
    supervisor, start, lines, thread = supervised
    victim = start("casework-worker#1", SLEEPER)
    bystander = start("intake-api#1", SLEEPER)
    thread.start()
    first, other = victim.process.pid, bystander.process.pid
    os.kill(first, signal.SIGKILL)
    wait_until(
        lambda: victim.restarts == 1 and victim.process.poll() is None, 5, message="the restart"
    )
    assert victim.process.pid != first and not alive(first)
    assert bystander.process.pid == other and bystander.process.poll() is None
    died = [line for line in lines if "died" in line]
    assert len(died) == 1 and died[0].startswith(
        f"casework-worker#1 (pid {first}) died: killed by SIGKILL"
    )
    state = json.loads((tmp_path / "processes.json").read_text())
    by_name = {p["name"]: p for p in state["processes"]}
    assert by_name["casework-worker#1"]["restarts"] == 1
    assert by_name["casework-worker#1"]["pid"] == victim.process.pid
    assert by_name["casework-worker#1"]["last_exit"] == "killed by SIGKILL"
    assert by_name["intake-api#1"]["restarts"] == 0 and by_name["intake-api#1"]["pid"] == other


def test_a_crash_looping_process_is_reported_and_retried_slowly(supervised, tmp_path):
    supervisor, start, lines, thread = supervised
    looping = start("notifications-worker#1", "import sys; sys.exit(3)")
    steady = start("reporting-worker#1", SLEEPER)
    thread.start()
    wait_until(lambda: looping.state == "crash-looping", 5, message="crash-looping")
    errors = [line for line in lines if line.startswith("ERROR")]
    assert errors == [errors[0]] and "notifications-worker#1 is crash-looping" in errors[0]
    assert "exit status 3" in next(line for line in lines if "died" in line)
    restarts = looping.restarts
    time.sleep(1.2)  # at most every max_s (0.5 s) now: two or three more, not hundreds
    assert 1 <= looping.restarts - restarts <= 3
    assert len([line for line in lines if line.startswith("ERROR")]) == 1  # reported once
    state = json.loads((tmp_path / "processes.json").read_text())
    assert {p["name"]: p["state"] for p in state["processes"]} == {
        "notifications-worker#1": "crash-looping",
        "reporting-worker#1": "running",
    }
    assert steady.restarts == 0


def test_stop_ends_every_process_and_what_it_started(supervised, tmp_path):
    supervisor, start, lines, thread = supervised
    parent = start("intake-api#1", PARENT)
    stubborn = start("casework-worker#1", STUBBORN)
    store = start("nx-27017", SLEEPER, last=True)
    wait_until(
        lambda: (
            (tmp_path / "child.pid").exists()
            and (tmp_path / "ready").exists()
            and (tmp_path / "child.pid").read_text()
        ),
        5,
        message="the children to start",
    )
    grandchild = int((tmp_path / "child.pid").read_text())
    began = time.monotonic()
    supervisor.stop(timeout=1)
    assert time.monotonic() - began < 5
    for child in (parent, stubborn, store):
        assert child.process.poll() is not None
    assert parent.process.returncode == -signal.SIGTERM
    assert stubborn.process.returncode == -signal.SIGKILL  # it ignored SIGTERM
    assert any("casework-worker#1 did not stop" in line for line in lines)
    wait_until(lambda: not alive(grandchild), 5, message="the grandchild to be gone")
    assert not (tmp_path / "processes.json").exists()
