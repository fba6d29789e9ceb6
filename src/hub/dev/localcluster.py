"""A local three-broker Apache Kafka KRaft cluster for fault tests, provisioned without Docker.

Each node is a combined broker and controller with its own node id, ports and data
directory under one run directory; the quorum is static (``controller.quorum.voters``),
topics get three replicas and need two in sync, as in production. Single nodes can be
stopped gracefully (SIGTERM), killed (SIGKILL) and started again while the others run.
The jars, the Java lookup and the process helpers are those of ``hub.dev.localkafka``.

Command line (``python -m hub.dev.localcluster COMMAND``)::

    start    start every node (formatting the cluster once); print the bootstrap servers
    stop     stop every node (SIGTERM, then SIGKILL after the timeout)
    reset    stop every node and delete the run directory
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import concurrent.futures
import contextlib
import json
import os
import shutil
import signal
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from hub.dev.localkafka import (
    KAFKA_VERSION,
    LocalKafkaError,
    _default_run_root,
    _file_lock,
    _is_alive,
    _port_open,
    _runs_config,
    _tail_file,
    _wait_for_exit,
    run_kafka_tool,
    spawn_broker,
)

__all__ = ["ClusterNode", "LocalCluster", "main"]

# Three JVMs share a 2-core machine with other work: a small heap and the serial collector.
_NODE_JVM_OPTS = ("-Xmx384m", "-XX:+UseSerialGC")
_DEFAULT_BASE_PORT = 21192


@dataclass(frozen=True, slots=True)
class ClusterNode:
    """One node of the cluster: its id, its two ports and its run directory."""

    node_id: int
    port: int
    controller_port: int
    run_dir: Path

    @property
    def bootstrap_servers(self) -> str:
        """This node's PLAINTEXT listener alone."""
        return f"127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        """The node's log (stdout and stderr of its JVM), appended to at each start."""
        return self.run_dir / "broker.log"

    @property
    def pid_file(self) -> Path:
        return self.run_dir / "kafka.pid"

    @property
    def server_properties(self) -> Path:
        return self.run_dir / "server.properties"

    @property
    def data_dir(self) -> Path:
        return self.run_dir / "data"


class LocalCluster:
    """A KRaft cluster of ``size`` nodes on 127.0.0.1 (replication 3, min.insync.replicas 2).

    Node ``n`` (1-based) listens on ``base_port + 2(n-1)`` for clients and on the port
    after it for the controller quorum.
    """

    def __init__(
        self,
        name: str = "fault",
        base_port: int = _DEFAULT_BASE_PORT,
        run_dir: Path | str | None = None,
        *,
        size: int = 3,
        replica_lag_ms: int = 10_000,
        cache_dir: Path | None = None,
    ) -> None:
        if size < 3:
            raise ValueError("a fault cluster needs at least three nodes (min.insync.replicas 2)")
        self.name = name
        self.run_dir = (
            Path(run_dir) if run_dir is not None else _default_run_root() / "cluster" / name
        ).absolute()
        self.nodes = [
            ClusterNode(
                node_id=n,
                port=base_port + 2 * (n - 1),
                controller_port=base_port + 2 * (n - 1) + 1,
                run_dir=self.run_dir / f"node-{n}",
            )
            for n in range(1, size + 1)
        ]
        self._replica_lag_ms = replica_lag_ms
        self._cache_dir = cache_dir

    # -- where things are -------------------------------------------------------------

    @property
    def bootstrap_servers(self) -> str:
        """Every node's PLAINTEXT listener, comma-separated."""
        return ",".join(node.bootstrap_servers for node in self.nodes)

    def node(self, node_id: int) -> ClusterNode:
        """The node with this id (1-based)."""
        for node in self.nodes:
            if node.node_id == node_id:
                return node
        raise ValueError(f"cluster {self.name!r} has no node {node_id}")

    # -- lifecycle --------------------------------------------------------------------

    def start(self, timeout: float = 120) -> str:
        """Start every node not running (formatting the cluster once); wait until all are in it."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with _file_lock(self.run_dir / ".lock"):
            self._format_once()
            for node in self.nodes:
                if self._live_pid(node) is None:
                    self._spawn(node)
        self.wait_until_ready(timeout)
        return self.bootstrap_servers

    def start_node(self, node_id: int, timeout: float = 90) -> None:
        """Start one node again (after stop_node or kill_node); wait until the cluster lists it."""
        node = self.node(node_id)
        if self._live_pid(node) is None:
            self._spawn(node)
        self.wait_until_ready(timeout)

    def stop_node(self, node_id: int, timeout: float = 60) -> bool:
        """Stop one node gracefully (SIGTERM: controlled shutdown); False when it was not running."""
        return self._signal(self.node(node_id), signal.SIGTERM, timeout)

    def kill_node(self, node_id: int) -> bool:
        """Kill one node (SIGKILL: no controlled shutdown); False when it was not running."""
        return self._signal(self.node(node_id), signal.SIGKILL, 10)

    def stop(self, timeout: float = 60) -> None:
        """Stop every node; each gets SIGTERM at once, SIGKILL after ``timeout``."""
        pids = {node.node_id: self._live_pid(node) for node in self.nodes}
        for pid in pids.values():
            if pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for node in self.nodes:
            pid = pids[node.node_id]
            if pid is not None and not _wait_for_exit(pid, max(deadline - time.monotonic(), 0)):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                _wait_for_exit(pid, 10)
            node.pid_file.unlink(missing_ok=True)

    def reset(self) -> None:
        """Stop every node and delete the run directory: configs, data and logs."""
        self.stop()
        shutil.rmtree(self.run_dir, ignore_errors=True)

    def running_nodes(self) -> list[int]:
        """Ids of the nodes whose process lives."""
        return [node.node_id for node in self.nodes if self._live_pid(node) is not None]

    def wait_until_ready(self, timeout: float = 90) -> None:
        """Wait until every running node answers and the cluster lists exactly those nodes."""
        deadline = time.monotonic() + timeout
        while True:
            running: list[int] = []
            for node in self.nodes:
                pid = _recorded_pid(node)
                if pid is None:
                    continue
                # Only whether it lives: right after the spawn its command line is not java's yet.
                if not _is_alive(pid):
                    raise LocalKafkaError(
                        f"node {node.node_id} of cluster {self.name!r} exited. "
                        f"Last lines of {node.log_file}:\n{_tail_file(node.log_file)}"
                    )
                running.append(node.node_id)
            if running and set(_cluster_node_ids(self._bootstrap_of(running))) == set(running):
                return
            if time.monotonic() > deadline:
                raise LocalKafkaError(
                    f"cluster {self.name!r} did not list nodes {running} within {timeout:.0f}s"
                )
            time.sleep(0.5)

    # -- internals --------------------------------------------------------------------

    def _bootstrap_of(self, node_ids: Sequence[int]) -> str:
        return ",".join(self.node(n).bootstrap_servers for n in node_ids)

    def _signal(self, node: ClusterNode, sig: signal.Signals, timeout: float) -> bool:
        pid = self._live_pid(node)
        if pid is None:
            node.pid_file.unlink(missing_ok=True)
            return False
        os.kill(pid, sig)
        if not _wait_for_exit(pid, timeout):
            os.kill(pid, signal.SIGKILL)
            if not _wait_for_exit(pid, 10):
                raise LocalKafkaError(f"node {node.node_id} (pid {pid}) survived SIGKILL")
        node.pid_file.unlink(missing_ok=True)
        return True

    def _live_pid(self, node: ClusterNode) -> int | None:
        pid = _recorded_pid(node)
        if pid is None or not _is_alive(pid) or not _runs_config(pid, node.server_properties):
            return None
        return pid

    def _render_properties(self, node: ClusterNode) -> str:
        voters = ",".join(f"{n.node_id}@127.0.0.1:{n.controller_port}" for n in self.nodes)
        props: dict[str, str] = {
            "process.roles": "broker,controller",
            "node.id": str(node.node_id),
            "controller.quorum.voters": voters,
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listeners": (
                f"PLAINTEXT://127.0.0.1:{node.port},CONTROLLER://127.0.0.1:{node.controller_port}"
            ),
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{node.port}",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(node.data_dir),
            "num.partitions": "1",
            "default.replication.factor": "3",
            "min.insync.replicas": "2",
            "offsets.topic.replication.factor": "3",
            "offsets.topic.num.partitions": "3",
            "transaction.state.log.replication.factor": "3",
            "transaction.state.log.min.isr": "2",
            "transaction.state.log.num.partitions": "3",
            "group.initial.rebalance.delay.ms": "0",
            # A killed follower leaves the ISR after this long; acks=all waits until then.
            "replica.lag.time.max.ms": str(self._replica_lag_ms),
            "auto.create.topics.enable": "false",
            "log.segment.bytes": str(16 * 1024 * 1024),
        }
        header = (
            f"# Written by hub.dev.localcluster for node {node.node_id} of {self.name!r}; "
            "rewritten at each start.\n"
        )
        return header + "".join(f"{key}={value}\n" for key, value in props.items())

    def _format_once(self) -> None:
        """Format every node's storage with one cluster id, unless that was done for these ports."""
        state_file = self.run_dir / "cluster.json"
        wanted = {
            "kafka_version": KAFKA_VERSION,
            "nodes": [[n.node_id, n.port, n.controller_port] for n in self.nodes],
        }
        try:
            state = json.loads(state_file.read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            state = None
        formatted = all((n.data_dir / "meta.properties").is_file() for n in self.nodes)
        if state is not None and formatted:
            if {k: state.get(k) for k in wanted} != wanted:
                raise LocalKafkaError(
                    f"cluster {self.name!r} was formatted for other ports or another Kafka; "
                    f"reset it (python -m hub.dev.localcluster reset --name {self.name})"
                )
            for node in self.nodes:  # ports unchanged, but settings may have
                node.server_properties.write_text(self._render_properties(node), encoding="utf-8")
            return
        for node in self.nodes:
            if _port_open(node.port) or _port_open(node.controller_port):
                raise LocalKafkaError(
                    f"port {node.port} or {node.controller_port} on 127.0.0.1 is taken; "
                    f"give cluster {self.name!r} another base port"
                )
            shutil.rmtree(node.data_dir, ignore_errors=True)
            node.run_dir.mkdir(parents=True, exist_ok=True)
            node.server_properties.write_text(self._render_properties(node), encoding="utf-8")
        cluster_id = _random_cluster_id()
        # Three JVMs in parallel: each format takes seconds, mostly JVM start-up.
        with concurrent.futures.ThreadPoolExecutor(max_workers=len(self.nodes)) as pool:
            formats = [
                pool.submit(
                    self._run_tool,
                    "kafka.tools.StorageTool",
                    "format",
                    "-t",
                    cluster_id,
                    "-c",
                    str(node.server_properties),
                )
                for node in self.nodes
            ]
            for done in formats:
                done.result()
        state_file.write_text(
            json.dumps({**wanted, "cluster_id": cluster_id}, indent=2) + "\n", encoding="utf-8"
        )

    def _run_tool(self, main_class: str, *args: str, timeout: float = 180) -> str:
        return run_kafka_tool(
            main_class, *args, run_dir=self.run_dir, cache_dir=self._cache_dir, timeout=timeout
        )

    def _spawn(self, node: ClusterNode) -> None:
        pid = spawn_broker(
            node.server_properties,
            run_dir=node.run_dir,
            log_file=node.log_file,
            jvm_opts=_NODE_JVM_OPTS,
            cache_dir=self._cache_dir,
            append=True,  # a node restarted mid-test keeps its earlier log
        )
        node.pid_file.write_text(f"{pid}\n", encoding="utf-8")


def _recorded_pid(node: ClusterNode) -> int | None:
    try:
        return int(node.pid_file.read_text(encoding="utf-8").strip())
    except (FileNotFoundError, ValueError):
        return None


def _random_cluster_id() -> str:
    """A cluster id as Kafka's ``Uuid.randomUuid()`` makes it: URL-safe base64, no leading dash."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not text.startswith("-"):
            return text


def _cluster_node_ids(bootstrap_servers: str) -> list[int]:
    """Ids of the brokers the cluster's metadata lists now; empty when nobody answers."""

    async def probe() -> list[int]:
        from hub.kafka import broker_ids

        return await broker_ids(bootstrap_servers)

    # A thread of its own: the caller may be inside a running event loop.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, probe()).result()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m hub.dev.localcluster",
        description=f"A local three-node Apache Kafka {KAFKA_VERSION} KRaft cluster for fault tests.",
    )
    parser.add_argument("command", choices=["start", "stop", "reset"])
    parser.add_argument("--name", default="fault", help="cluster name (default: fault)")
    parser.add_argument(
        "--base-port",
        type=int,
        default=_DEFAULT_BASE_PORT,
        help=f"first node's client port; each node takes two (default {_DEFAULT_BASE_PORT})",
    )
    parser.add_argument("--timeout", type=float, default=120, help="seconds to wait (default 120)")
    args = parser.parse_args(argv)
    cluster = LocalCluster(args.name, args.base_port)
    try:
        if args.command == "start":
            print(cluster.start(args.timeout))
        elif args.command == "stop":
            cluster.stop(args.timeout)
            print(f"cluster {cluster.name!r} stopped")
        else:
            cluster.reset()
            print(f"cluster {cluster.name!r} stopped and {cluster.run_dir} deleted")
    except LocalKafkaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
