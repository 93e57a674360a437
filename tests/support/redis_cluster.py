"""A real Redis Cluster for the tests: three masters of Debian's redis-server on free loopback ports."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import require
from tests.support.processes import free_port

MASTERS = 3


def _cli(port: int, *args: str) -> str:
    return subprocess.run(["redis-cli", "-p", str(port), *args], capture_output=True, text=True, timeout=30).stdout


def _wait(condition, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} after {timeout} s")
        time.sleep(0.1)


class LocalCluster:
    """The nodes keep their cluster configuration under `directory` (no data: nothing is saved), so a stopped
    cluster starts again as the same cluster, empty."""

    def __init__(self, directory: Path):
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        ports: list[int] = []
        while len(ports) < 2 * MASTERS:  # each node: its port and its cluster bus port, all distinct
            ports += {free_port()} - set(ports)
        self.ports, self.bus_ports = ports[:MASTERS], ports[MASTERS:]
        self.url = f"redis://127.0.0.1:{self.ports[0]}"  # any node: a cluster client discovers the others
        self.processes: list[subprocess.Popen] = []

    def start(self) -> None:
        """Start the nodes (joined with `redis-cli --cluster create` the first time); returns when every node
        says cluster_state:ok."""
        created = (self.directory / f"nodes-{self.ports[0]}.conf").exists()
        for port, bus_port in zip(self.ports, self.bus_ports, strict=True):
            command = [
                "redis-server", "--port", str(port), "--bind", "127.0.0.1", "--cluster-port", str(bus_port),
                "--cluster-enabled", "yes", "--cluster-config-file", f"nodes-{port}.conf", "--dir", str(self.directory),
                "--save", "", "--appendonly", "no", "--logfile", f"redis-{port}.log",
            ]
            self.processes.append(subprocess.Popen(command, cwd=self.directory, stdout=subprocess.DEVNULL))
        for port in self.ports:
            _wait(lambda port=port: _cli(port, "ping").strip() == "PONG", f"redis-server on :{port} did not answer")
        if not created:
            create = subprocess.run(
                ["redis-cli", "--cluster", "create", *(f"127.0.0.1:{port}" for port in self.ports),
                 "--cluster-replicas", "0", "--cluster-yes"],
                capture_output=True, text=True, timeout=60,
            )
            if create.returncode != 0:
                raise RuntimeError(f"redis-cli --cluster create failed:\n{create.stdout}{create.stderr}")
        for port in self.ports:
            _wait(lambda port=port: "cluster_state:ok" in _cli(port, "cluster", "info"),
                  f"the cluster is not ok on :{port}")

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            process.wait(timeout=30)
        self.processes.clear()


@contextmanager
def redis_cluster(directory: Path) -> Iterator[LocalCluster]:
    """A started cluster, stopped on the way out; the test fails (never skips) where redis-server is missing."""
    require(shutil.which("redis-server") is not None and shutil.which("redis-cli") is not None,
            "redis-server and redis-cli are not installed (Debian package redis-server)")
    cluster = LocalCluster(directory)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
