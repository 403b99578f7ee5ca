"""Keeps ``make run``'s processes running on one machine.

A process that dies is restarted after a delay that doubles with each crash in a row
(``Policy``: 1 s, 2 s, 4 s ... up to 30 s); a process that stayed up ``stable_s``
(60 s) starts counting afresh. A process that crashes ``loop_crashes`` times within
``loop_window_s`` (5 within 60 s) is *crash-looping*: that is logged once as an ERROR
with what to look at, shown by ``make status``, and it is retried at the longest delay
(every 30 s) rather than given up, so that it recovers by itself once its cause (a full
disk, a store away) is gone; it stops being crash-looping after ``stable_s`` up.

The other processes keep serving meanwhile. Only ``stop()`` (Ctrl-C or SIGTERM to
``make run``) ends them: SIGTERM to each, services before the store, a wait, then
SIGKILL. Each child runs in its own session (process group): a dead gunicorn master's
orphaned workers are told to stop with it, and killed before its replacement starts.

The decisions (``Policy``, ``History.after_exit``) are pure; ``Supervisor`` applies
them to real processes and writes what it sees to a state file for ``make status``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Policy:
    initial_s: float = 1.0
    max_s: float = 30.0
    stable_s: float = 60.0  # up this long: its next crash counts as a first one
    loop_crashes: int = 5  # this many crashes ...
    loop_window_s: float = 60.0  # ... within this long: crash-looping

    def backoff(self, consecutive: int) -> float:
        """The delay before the restart that follows the ``consecutive``-th crash in a row."""
        return min(self.initial_s * 2 ** max(consecutive - 1, 0), self.max_s)


@dataclass
class History:
    """One process's recent crashes, and what to do about the next one."""

    consecutive: int = 0
    crashes: list[float] = field(default_factory=list)
    looping: bool = False

    def after_exit(self, policy: Policy, started_at: float, exited_at: float) -> float:
        """Record a crash; returns the delay before restarting it (``looping`` says
        whether it is now crash-looping)."""
        if exited_at - started_at >= policy.stable_s:
            self.consecutive, self.crashes, self.looping = 0, [], False
        self.consecutive += 1
        self.crashes = [t for t in self.crashes if exited_at - t < policy.loop_window_s]
        self.crashes.append(exited_at)
        if len(self.crashes) >= policy.loop_crashes:
            self.looping = True
        return policy.max_s if self.looping else policy.backoff(self.consecutive)

    def recovered(self, policy: Policy, started_at: float, now: float) -> bool:
        """True once (and resets) when a crash-looping process has stayed up long enough."""
        if self.looping and now - started_at >= policy.stable_s:
            self.consecutive, self.crashes, self.looping = 0, [], False
            return True
        return False


def describe_exit(returncode: int) -> str:
    """``exit status 3`` or ``killed by SIGKILL``."""
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit status {returncode}"


@dataclass
class Spec:
    """What to run: ``name`` as shown (``casework-worker#1``), its command and
    environment, where its output goes (None: nowhere), and ``last`` for the store,
    stopped after every other process. ``info`` is shown by ``make status``."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path | None = None
    cwd: Path | None = None
    last: bool = False
    info: dict = field(default_factory=dict)


@dataclass
class Supervised:
    spec: Spec
    process: subprocess.Popen | None = None
    started_at: float = 0.0  # monotonic
    started_wall: float = 0.0  # epoch seconds, for make status
    restarts: int = 0
    restart_at: float | None = None  # monotonic; set while waiting to restart
    last_exit: str = ""
    history: History = field(default_factory=History)

    @property
    def state(self) -> str:
        if self.history.looping:
            return "crash-looping"
        return "restarting" if self.restart_at is not None else "running"


class Supervisor:
    """Starts processes and, on each ``poll()``, restarts those that died."""

    def __init__(
        self,
        policy: Policy = Policy(),
        say: Callable[[str], None] = print,
        state_file: Path | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.policy, self.say, self.state_file, self.clock = policy, say, state_file, clock
        self.children: list[Supervised] = []

    def start(self, spec: Spec) -> Supervised:
        child = Supervised(spec)
        self.children.append(child)
        self._spawn(child)
        return child

    def _spawn(self, child: Supervised) -> None:
        spec = child.spec
        output = spec.log_path.open("ab") if spec.log_path else subprocess.DEVNULL
        try:
            child.process = subprocess.Popen(  # noqa: S603
                spec.argv,
                env=spec.env,
                stdout=output,
                stderr=subprocess.STDOUT,
                cwd=spec.cwd,
                start_new_session=True,
            )
        finally:
            if spec.log_path:
                output.close()
        child.started_at, child.started_wall = self.clock(), time.time()
        child.restart_at = None
        self.write_state()

    def exited(self) -> list[tuple[str, int]]:
        """Those whose process has ended (and not yet been restarted)."""
        return [
            (c.spec.name, c.process.returncode)
            for c in self.children
            if c.process is not None and c.process.poll() is not None
        ]

    def poll(self) -> None:
        """Notice deaths, schedule their restarts, and restart those whose time has come."""
        now = self.clock()
        for child in self.children:
            process = child.process
            if child.restart_at is None and process is not None:
                if process.poll() is None:
                    if child.history.recovered(self.policy, child.started_at, now):
                        self.say(
                            f"{child.spec.name} has stayed up "
                            f"{self.policy.stable_s:.0f} s: no longer crash-looping"
                        )
                        self.write_state()
                    continue
                self._died(child, now)
            elif child.restart_at is not None and now >= child.restart_at:
                _signal_group(child.process.pid, signal.SIGKILL)  # what its dead leader left
                child.restarts += 1
                self._spawn(child)
                self.say(
                    f"{child.spec.name} restarted (pid {child.process.pid}, "
                    f"restart {child.restarts})"
                )

    def _died(self, child: Supervised, now: float) -> None:
        process = child.process
        child.last_exit = describe_exit(process.returncode)
        _signal_group(process.pid, signal.SIGTERM)  # e.g. a dead gunicorn master's workers
        was_looping = child.history.looping
        delay = child.history.after_exit(self.policy, child.started_at, now)
        child.restart_at = now + delay
        self.say(
            f"{child.spec.name} (pid {process.pid}) died: {child.last_exit} after "
            f"{now - child.started_at:.1f} s up; restarting in {delay:g} s; "
            "the other processes keep serving"
        )
        if child.history.looping and not was_looping:
            self.say(
                f"ERROR: {child.spec.name} is crash-looping ({len(child.history.crashes)} "
                f"crashes within {self.policy.loop_window_s:g} s); retrying every "
                f"{self.policy.max_s:g} s. See "
                f"{child.spec.log_path or 'its log'}"
            )
        self.write_state()

    def run(self, stopping: Callable[[], bool], interval: float = 0.2) -> None:
        """Poll until ``stopping()`` says so."""
        while not stopping():
            self.poll()
            time.sleep(interval)

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM, a wait of up to ``timeout``, then SIGKILL: services, then the store."""
        for group in (
            [c for c in self.children if not c.spec.last],
            [c for c in self.children if c.spec.last],
        ):
            running = [c for c in group if c.process is not None and c.process.poll() is None]
            for child in running:
                child.process.terminate()
            deadline = self.clock() + timeout
            for child in running:
                try:
                    child.process.wait(max(0.1, deadline - self.clock()))
                except subprocess.TimeoutExpired:
                    self.say(f"{child.spec.name} did not stop within {timeout:g} s; killing it")
                    child.process.kill()
                    child.process.wait()
            for child in group:
                if child.process is not None:
                    _signal_group(child.process.pid, signal.SIGKILL)
                child.restart_at = None
        if self.state_file is not None:
            self.state_file.unlink(missing_ok=True)

    def snapshot(self) -> list[dict]:
        return [
            {
                "name": c.spec.name,
                "pid": c.process.pid if c.process else None,
                "started_at": round(c.started_wall, 3),
                "restarts": c.restarts,
                "state": c.state,
                "last_exit": c.last_exit,
                **c.spec.info,
            }
            for c in self.children
        ]

    def write_state(self) -> None:
        """The state file ``make status`` reads (written whole, then renamed into place)."""
        if self.state_file is None:
            return
        partial = self.state_file.with_suffix(".tmp")
        partial.write_text(
            json.dumps({"supervisor_pid": os.getpid(), "processes": self.snapshot()}, indent=1)
        )
        partial.replace(self.state_file)


def _signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass
