"""make run's supervisor decides when to restart a dead process: backoff and crash-looping."""

import signal

from deploy.supervisor import History, Policy, describe_exit

POLICY = Policy(initial_s=1, max_s=30, stable_s=60, loop_crashes=5, loop_window_s=60)


def test_the_delay_doubles_from_one_second_up_to_thirty():
    assert [POLICY.backoff(n) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]


def test_crashes_in_a_row_back_off_and_a_long_run_starts_afresh():
    history, now = History(), 0.0
    delays = []
    for _ in range(3):
        started = now
        now += 5  # up 5 s, then dies
        delays.append(history.after_exit(POLICY, started, now))
        now += delays[-1]
    assert delays == [1, 2, 4] and not history.looping
    started = now
    now += 61  # up longer than stable_s
    assert history.after_exit(POLICY, started, now) == 1
    assert history.consecutive == 1


def test_five_crashes_within_a_minute_is_crash_looping_retried_at_the_longest_delay():
    history, now = History(), 0.0
    for expected in (1, 2, 4, 8):
        assert history.after_exit(POLICY, now, now + 1) == expected
        now += 1 + expected
        assert not history.looping
    assert now < 60
    assert history.after_exit(POLICY, now, now + 1) == 30  # the fifth, 20 s after the first
    assert history.looping
    # still looping on the next crash, though the window has moved on
    assert history.after_exit(POLICY, now + 31, now + 40) == 30 and history.looping


def test_crashes_spread_out_are_not_a_loop():
    history = History()
    for n in range(10):
        history.after_exit(POLICY, n * 70.0, n * 70.0 + 61)  # each up over a minute
    assert not history.looping and history.consecutive == 1


def test_a_crash_looping_process_recovers_after_staying_up():
    history = History()
    for n in range(5):
        history.after_exit(POLICY, float(n), n + 0.5)
    assert history.looping
    assert not history.recovered(POLICY, 100.0, 150.0)
    assert history.recovered(POLICY, 100.0, 160.0)
    assert not history.looping and history.consecutive == 0
    assert not history.recovered(POLICY, 100.0, 170.0)  # said once


def test_an_exit_is_described_by_its_status_or_signal():
    assert describe_exit(3) == "exit status 3"
    assert describe_exit(-signal.SIGKILL) == "killed by SIGKILL"
    assert describe_exit(-signal.SIGSEGV) == "killed by SIGSEGV"


def test_make_status_shows_each_supervised_process_and_a_stale_file_not(tmp_path):
    import json
    import os
    import time

    from services.common import config
    from services.ops import status

    settings = config.settings({"SHEGONG_VAR_DIR": str(tmp_path)})
    assert status.supervised(settings) is None  # make run is not running here
    processes = [
        {
            "name": "casework-worker#1",
            "pid": 11,
            "started_at": time.time() - 90,
            "restarts": 2,
            "state": "running",
            "last_exit": "killed by SIGKILL",
        },
        {
            "name": "casework-worker#2",
            "pid": 12,
            "started_at": time.time() - 5,
            "restarts": 6,
            "state": "crash-looping",
            "last_exit": "exit status 1",
        },
    ]
    (tmp_path / "processes.json").write_text(
        json.dumps({"supervisor_pid": os.getpid(), "processes": processes})
    )
    rows = status.supervised(settings)
    assert [(r["process"], r["pid"], r["restarts"], r["state"]) for r in rows] == [
        ("casework-worker#1", 11, 2, "running"),
        ("casework-worker#2", 12, 6, "crash-looping"),
    ]
    assert 89 <= rows[0]["up_s"] <= 92
    services = [
        {
            "service": "casework",
            "api": "ready",
            "worker": "ready",
            "dead_letters": 0,
            "outbox_backlog": 0,
            "oldest_pending_s": 0,
        }
    ]
    assert not status.healthy({"services": services, "queues": [], "processes": rows})
    assert status.healthy({"services": services, "queues": [], "processes": rows[:1]})
    shown = status.render({"services": services, "queues": [], "processes": rows})
    assert "PROCESS" in shown and "casework-worker#2" in shown and "crash-looping" in shown
    (tmp_path / "processes.json").write_text(
        json.dumps({"supervisor_pid": 2**22 + 12345, "processes": processes})
    )  # no such process
    assert status.supervised(settings) is None
