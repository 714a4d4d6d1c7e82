"""`linepulse worker --processes N`: N compute processes and one store process, supervised.

The compute processes form one consumer group and share the OEE and sensor partitions between
them (Faust's assignor keeps co-partitioned topics together); the store process reads the stored
topics in a group of its own, owns the store and answers queries and /health on the worker's
port. Each compute process serves its own metrics and /health on the ports after it. When one
process ends, the others are stopped and the worker exits with its code, so that a supervisor
(Kubernetes, systemd) restarts the whole worker.
"""

from __future__ import annotations

import ctypes
import logging
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from types import FrameType

from connectors.loopback import port_is_free
from schemas.exceptions import LinePulseError
from streams.settings import WorkerSettings

log = logging.getLogger(__name__)
PR_SET_PDEATHSIG = 1


class WorkerPortsInUse(LinePulseError):
    """A port the worker's processes need is taken."""


@dataclass(frozen=True)
class ProcessPlan:
    """One child of the worker: its role, its index and its HTTP port."""

    role: str
    index: int
    web_port: int

    def arguments(self) -> list[str]:
        """The flags that make a `linepulse worker` this child (given last, they win)."""
        return [
            "--role",
            self.role,
            "--process-index",
            str(self.index),
            "--web-port",
            str(self.web_port),
            "--processes",
            "1",
        ]


def plan(worker: WorkerSettings) -> list[ProcessPlan]:
    """The store process on the worker's port, then the compute processes on the next ones."""
    store = ProcessPlan("store", 0, worker.web_port)
    computes = [ProcessPlan("compute", i, worker.web_port + 1 + i) for i in range(worker.processes)]
    return [store, *computes]


def run_processes(worker: WorkerSettings, argv: Sequence[str]) -> int:
    """Run the children of `plan` with the worker's own command line `argv` (without the
    program name) and supervise them; returns the exit code."""
    children_plan = plan(worker)
    busy = [c for c in children_plan if not port_is_free(c.web_port, worker.web_host)]
    if busy:
        ports = f"{children_plan[0].web_port}..{children_plan[-1].web_port}"
        msg = (
            f"port {busy[0].web_port} for the worker's {busy[0].role} process "
            f"{busy[0].index} is in use: --processes {worker.processes} needs ports {ports} "
            "free; choose another --web-port"
        )
        raise WorkerPortsInUse(msg)
    children = [(child, _start(child, argv)) for child in children_plan]
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        while not stopping:
            ended = [(c, p) for c, p in children if p.poll() is not None]
            if ended:
                child, process = ended[0]
                log.error(
                    "worker %s process %d ended with code %s; stopping the others",
                    child.role,
                    child.index,
                    process.returncode,
                )
                return process.returncode or 1
            time.sleep(0.2)
        return 0
    finally:
        _stop_all([p for _, p in children])
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _start(child: ProcessPlan, argv: Sequence[str]) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "streams.commands.cli", *argv, *child.arguments()]
    log.info("starting worker %s process %d on port %d", child.role, child.index, child.web_port)
    return subprocess.Popen(command, preexec_fn=_end_with_parent)


def _end_with_parent() -> None:
    """In the child: have Linux kill it when the supervising worker dies (a worker is only
    gone without stopping its children when it was killed itself). SIGKILL, not SIGTERM: a
    Faust worker's orderly stop can wait forever for a broker that went away with it, and no
    one would be left to end it; what it had not committed is read again by its successor."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:  # not Linux: a killed worker's children must be stopped by hand
        pass


def _stop_all(processes: list[subprocess.Popen[bytes]], timeout_s: float = 30.0) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    for process in processes:
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
