"""A real single-node Apache Kafka broker for development and tests, provisioned without Docker.

The broker's jars come from Maven Central (through ``mvn``) into a cache outside the
repository, one directory per Kafka version. Each named broker keeps its config, data,
pid file and log in its own run directory, so a plain broker and a SCRAM broker can
run side by side and a broker left running is reused by the next test run.

Command line (``python -m hub.dev.localkafka COMMAND``)::

    start      start the broker, or reuse the one already running; print where it is,
               then its bootstrap servers alone on the last line
    ensure     the same, silent on success (for scripts)
    bootstrap  ensure it runs, then print only its bootstrap servers
    status     print whether it runs (exit code 0 when it answers, 1 otherwise)
    stop       stop it (SIGTERM, then SIGKILL after the timeout)
    reset      stop it and delete its run directory (config, data, log)
    fetch      only download the jars into the cache

docs/local-kafka.md explains the choices for operators.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hub.errors import HubError

__all__ = [
    "DEFAULT_SCRAM_USERS",
    "KAFKA_VERSION",
    "BrokerStatus",
    "LocalKafka",
    "LocalKafkaError",
    "TlsFiles",
    "default_cache_dir",
    "fetch_kafka_jars",
    "main",
    "run_kafka_tool",
    "spawn_broker",
]

# 3.9.x, not 4.x: aiokafka 0.14 sends transaction requests at protocol versions 4.0 removed.
KAFKA_VERSION = "3.9.1"
SCALA_VERSION = "2.13"
# Kafka 3.9 declares its log4j backend compile-only; these are the versions its own
# distribution ships (connect-runtime 3.9.1's pom and the slf4j-api in kafka_2.13's pom).
_RELOAD4J_VERSION = "1.2.25"
_SLF4J_VERSION = "1.7.36"
_DEPENDENCY_PLUGIN_VERSION = "3.8.1"

# Local development credentials only; a SCRAM broker is bound to 127.0.0.1.
DEFAULT_SCRAM_USERS: Mapping[str, str] = {"hub": "hub-local-secret"}

_NODE_ID = 1
_PLAIN_PORTS = (19092, 19093)
_SCRAM_PORTS = (19192, 19193, 19194)
_SCRAM_MECHANISM = "SCRAM-SHA-512"
# Names and passwords end up inside StorageTool's `[name=..,password=..]` syntax and JAAS strings.
_SAFE_USER = re.compile(r"^[A-Za-z0-9._-]+$")
_SAFE_PASSWORD = re.compile(r"^[A-Za-z0-9._~!@#$%^&*+:/?-]+$")
_MAVEN_TIMEOUT_S = 900.0
_TOOL_JVM_OPTS = ("-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1")

_POM = f"""<?xml version="1.0" encoding="UTF-8"?>
<!-- Written by hub.dev.localkafka: resolves the jars of a Kafka {KAFKA_VERSION} broker. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.sociaal-hub</groupId>
  <artifactId>kafka-broker-libs</artifactId>
  <version>{KAFKA_VERSION}</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_{SCALA_VERSION}</artifactId>
      <version>{KAFKA_VERSION}</version>
    </dependency>
    <dependency>
      <groupId>ch.qos.reload4j</groupId>
      <artifactId>reload4j</artifactId>
      <version>{_RELOAD4J_VERSION}</version>
    </dependency>
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-reload4j</artifactId>
      <version>{_SLF4J_VERSION}</version>
    </dependency>
  </dependencies>
  <build>
    <pluginManagement>
      <plugins>
        <plugin>
          <groupId>org.apache.maven.plugins</groupId>
          <artifactId>maven-dependency-plugin</artifactId>
          <version>{_DEPENDENCY_PLUGIN_VERSION}</version>
        </plugin>
      </plugins>
    </pluginManagement>
  </build>
</project>
"""

_BROKER_LOG4J = """\
# Written by hub.dev.localkafka. The broker's stdout is its log file (broker.log).
log4j.rootLogger=WARN, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
# One INFO line when the broker is up: "Kafka Server started".
log4j.logger.kafka.server.KafkaRaftServer=INFO
# Denied requests are logged at INFO (allowed ones at DEBUG): useful when testing ACLs.
log4j.logger.kafka.authorizer.logger=INFO
"""

_TOOL_LOG4J = """\
# Written by hub.dev.localkafka for Kafka's command-line tools: warnings to stderr only.
log4j.rootLogger=WARN, stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.Target=System.err
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n
"""


class LocalKafkaError(HubError):
    """The local broker could not be fetched, formatted, started or stopped."""


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """PEM files for a broker's TLS listeners (tests make them with trustme).

    ``client_ca``, when given, makes the SSL listener require a client certificate
    signed by it; the certificate's CN is then the client's user name (``CN=hub`` is
    ``User:hub``).
    """

    certificate_chain: Path  # the broker's certificate, then any intermediates
    private_key: Path  # unencrypted PKCS#8 ("BEGIN PRIVATE KEY"), as Kafka's PEM store needs
    client_ca: Path | None = None


@dataclass(frozen=True, slots=True)
class BrokerStatus:
    """What a local broker is doing right now, as far as its pid file and port tell."""

    name: str
    running: bool
    pid: int | None
    listening: bool
    bootstrap_servers: str
    sasl_bootstrap_servers: str | None
    run_dir: Path
    log_file: Path
    ssl_bootstrap_servers: str | None = None
    sasl_ssl_bootstrap_servers: str | None = None

    def describe(self) -> str:
        """One line for an operator."""
        if self.running and self.listening:
            state = f"running (pid {self.pid})"
        elif self.running:
            state = f"started but not answering (pid {self.pid})"
        elif self.listening:
            state = "answering (started from another run directory or by another program)"
        else:
            state = "stopped"
        where = self.bootstrap_servers
        if self.sasl_bootstrap_servers:
            where += f", SASL/SCRAM {self.sasl_bootstrap_servers}"
        if self.ssl_bootstrap_servers:
            where += f", SSL {self.ssl_bootstrap_servers}"
        if self.sasl_ssl_bootstrap_servers:
            where += f", SASL_SSL {self.sasl_ssl_bootstrap_servers}"
        return f"kafka {self.name!r} {state}: bootstrap {where}; log {self.log_file}"


def default_cache_dir() -> Path:
    """``$HUB_CACHE_DIR``, else ``${XDG_CACHE_HOME:-~/.cache}/sociaal-hub``."""
    explicit = os.environ.get("HUB_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "sociaal-hub"


def _default_run_root() -> Path:
    """``$HUB_RUN_DIR``, else ``<repo root>/.hub-run`` (git-ignored), else ``./.hub-run``."""
    explicit = os.environ.get("HUB_RUN_DIR")
    if explicit:
        return Path(explicit).expanduser()
    for parent in Path(__file__).resolve().parents:
        if (parent / "pyproject.toml").is_file() and (parent / "src" / "hub").is_dir():
            return parent / ".hub-run"
    # Installed as a wheel: there is no checkout to hold the run directory.
    return Path.cwd() / ".hub-run"


def fetch_kafka_jars(*, cache_dir: Path | None = None) -> Path:
    """Download Kafka's broker jars with Maven once per version; return the ``libs`` directory.

    A marker file is written only after Maven succeeds, so an interrupted download is
    redone from scratch on the next call. Concurrent callers wait on a file lock.
    """
    base = (cache_dir or default_cache_dir()) / "kafka" / KAFKA_VERSION
    libs = base / "libs"
    marker = base / "libs.complete"
    if marker.is_file() and libs.is_dir():
        return libs
    mvn = shutil.which("mvn")
    if mvn is None:
        raise LocalKafkaError(
            "mvn (Apache Maven) is not on PATH; it downloads the Kafka broker's jars. "
            "Install Maven 3.6.3 or newer (Debian/Ubuntu: apt-get install maven; "
            "macOS: brew install maven), or run the broker with Docker (compose/)."
        )
    base.mkdir(parents=True, exist_ok=True)
    with _file_lock(base / ".lock"):
        if marker.is_file() and libs.is_dir():
            return libs
        shutil.rmtree(libs, ignore_errors=True)
        pom = base / "pom.xml"
        pom.write_text(_POM, encoding="utf-8")
        command = [
            mvn,
            "-q",
            "-B",
            "-Dstyle.color=never",
            "-f",
            str(pom),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={libs}",
        ]
        try:
            result = subprocess.run(  # noqa: S603 - fixed argv, no shell
                command,
                cwd=base,
                capture_output=True,
                text=True,
                timeout=_MAVEN_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise LocalKafkaError(
                f"Maven did not finish downloading Kafka {KAFKA_VERSION} within "
                f"{_MAVEN_TIMEOUT_S:.0f}s; is Maven Central reachable?"
            ) from exc
        jars = sorted(p.name for p in libs.glob("*.jar")) if libs.is_dir() else []
        if result.returncode != 0 or f"kafka_{SCALA_VERSION}-{KAFKA_VERSION}.jar" not in jars:
            output = _tail(result.stdout + result.stderr)
            raise LocalKafkaError(
                f"Maven could not fetch Kafka {KAFKA_VERSION} (exit {result.returncode}; "
                f"pom {pom}). Last lines of its output:\n{output}"
            )
        marker.write_text("\n".join(jars) + "\n", encoding="utf-8")
    return libs


class LocalKafka:
    """One named single-node KRaft broker (combined broker and controller) on 127.0.0.1.

    With ``scram=True`` the broker also listens for SASL/SCRAM-SHA-512 clients and
    enforces ACLs; its default name and ports differ from the plain broker's so both
    can run at once. The PLAINTEXT listener stays open there for the broker itself and
    acts as a super user (``User:ANONYMOUS``): never expose it beyond this machine.

    With ``tls`` the broker also has an SSL listener (``ssl_port``, default port + 3)
    and, with ``scram=True`` as well, a SASL_SSL listener (``sasl_ssl_port``, default
    port + 4). The PLAINTEXT listener stays: the broker's own health check uses it.
    """

    def __init__(
        self,
        name: str | None = None,
        port: int | None = None,
        controller_port: int | None = None,
        run_dir: Path | str | None = None,
        *,
        scram: bool = False,
        scram_users: Mapping[str, str] | None = None,
        sasl_port: int | None = None,
        tls: TlsFiles | None = None,
        ssl_port: int | None = None,
        sasl_ssl_port: int | None = None,
        cache_dir: Path | None = None,
    ) -> None:
        defaults = _SCRAM_PORTS if scram else _PLAIN_PORTS
        self.name = name or ("scram" if scram else "dev")
        self.port = port if port is not None else defaults[0]
        self.controller_port = controller_port if controller_port is not None else defaults[1]
        self.scram = scram
        self.sasl_port: int | None = None
        if scram:
            self.sasl_port = sasl_port if sasl_port is not None else self.port + 2
        elif sasl_port is not None or scram_users is not None:
            raise ValueError("sasl_port and scram_users need scram=True")
        self.tls = tls
        self.ssl_port: int | None = None
        self.sasl_ssl_port: int | None = None
        if tls is not None:
            self.ssl_port = ssl_port if ssl_port is not None else self.port + 3
            if scram:
                self.sasl_ssl_port = sasl_ssl_port if sasl_ssl_port is not None else self.port + 4
            elif sasl_ssl_port is not None:
                raise ValueError("sasl_ssl_port needs scram=True")
        elif ssl_port is not None or sasl_ssl_port is not None:
            raise ValueError("ssl_port and sasl_ssl_port need tls")
        self.scram_users: dict[str, str] = dict(scram_users or DEFAULT_SCRAM_USERS) if scram else {}
        for user, password in self.scram_users.items():
            if not _SAFE_USER.match(user):
                raise ValueError(f"SCRAM user name {user!r} may hold only A-Z a-z 0-9 . _ -")
            if not _SAFE_PASSWORD.match(password):
                raise ValueError(
                    f"SCRAM password of {user!r} holds a character Kafka's tools split on"
                )
        ports = [p for p in self._ports if p is not None]
        if len(set(ports)) != len(ports):
            raise ValueError(f"ports must differ, got {ports}")
        # Absolute: the pid check matches the config path on the broker's command line.
        self.run_dir = (
            Path(run_dir) if run_dir is not None else _default_run_root() / "kafka" / self.name
        ).absolute()
        self._cache_dir = cache_dir

    # -- where things are -------------------------------------------------------------

    @property
    def bootstrap_servers(self) -> str:
        """The PLAINTEXT listener, ``127.0.0.1:<port>``."""
        return f"127.0.0.1:{self.port}"

    @property
    def sasl_bootstrap_servers(self) -> str:
        """The SASL_PLAINTEXT (SCRAM-SHA-512) listener; only in SCRAM mode."""
        if self.sasl_port is None:
            raise LocalKafkaError(f"broker {self.name!r} was not configured with scram=True")
        return f"127.0.0.1:{self.sasl_port}"

    @property
    def ssl_bootstrap_servers(self) -> str:
        """The SSL listener; only with ``tls``."""
        if self.ssl_port is None:
            raise LocalKafkaError(f"broker {self.name!r} was not configured with tls")
        return f"127.0.0.1:{self.ssl_port}"

    @property
    def sasl_ssl_bootstrap_servers(self) -> str:
        """The SASL_SSL (SCRAM-SHA-512 over TLS) listener; only with ``tls`` and ``scram=True``."""
        if self.sasl_ssl_port is None:
            raise LocalKafkaError(f"broker {self.name!r} was not configured with tls and scram")
        return f"127.0.0.1:{self.sasl_ssl_port}"

    @property
    def _ports(self) -> tuple[int | None, ...]:
        return (self.port, self.controller_port, self.sasl_port, self.ssl_port, self.sasl_ssl_port)

    @property
    def log_file(self) -> Path:
        """The broker's log (stdout and stderr of the JVM), rewritten at each start."""
        return self.run_dir / "broker.log"

    @property
    def _pid_file(self) -> Path:
        return self.run_dir / "kafka.pid"

    @property
    def _server_properties(self) -> Path:
        return self.run_dir / "server.properties"

    @property
    def _data_dir(self) -> Path:
        return self.run_dir / "data"

    @property
    def _state_file(self) -> Path:
        return self.run_dir / "format.json"

    # -- lifecycle --------------------------------------------------------------------

    def ensure_running(self, timeout: float = 60) -> str:
        """Reuse the broker if it runs and answers, else start it; return its bootstrap servers.

        ``timeout`` bounds the wait for the broker to answer a metadata request; the
        first call may also spend minutes downloading jars (bounded separately). A plain
        broker that already answers on the port but was started from another checkout
        (another run directory) is reused as it is; ``stop`` leaves it alone.
        """
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with _file_lock(self.run_dir / ".lock"):
            pid = self._live_pid()
            if pid is not None:
                self._wait_until_ready(pid, timeout)
            elif self._answered_elsewhere():
                return self.bootstrap_servers
            else:
                self._start(timeout)
            if self.scram:
                self._sync_scram_users()
        return self.bootstrap_servers

    def _answered_elsewhere(self) -> bool:
        """Whether a plain broker of another run directory already serves this port."""
        if self.scram or self.tls is not None:
            return False  # their listeners and users are this run directory's own
        return _port_open(self.port) and _answers_metadata(self.bootstrap_servers)

    def stop(self, timeout: float = 30) -> bool:
        """Stop the broker (SIGTERM, then SIGKILL after ``timeout``); False when none ran."""
        if not self.run_dir.is_dir():
            return False
        with _file_lock(self.run_dir / ".lock"):
            pid = self._live_pid()
            if pid is None:
                self._pid_file.unlink(missing_ok=True)
                return False
            os.kill(pid, signal.SIGTERM)
            if not _wait_for_exit(pid, timeout):
                os.kill(pid, signal.SIGKILL)
                if not _wait_for_exit(pid, 10):
                    raise LocalKafkaError(f"broker {self.name!r} (pid {pid}) survived SIGKILL")
            self._pid_file.unlink(missing_ok=True)
            return True

    def reset(self) -> None:
        """Stop the broker and delete its run directory: config, data and log."""
        self.stop()
        shutil.rmtree(self.run_dir, ignore_errors=True)

    def status(self) -> BrokerStatus:
        """Whether the broker's process lives and its port accepts connections (cheap)."""
        pid = self._live_pid()
        return BrokerStatus(
            name=self.name,
            running=pid is not None,
            pid=pid,
            listening=_port_open(self.port),
            bootstrap_servers=self.bootstrap_servers,
            sasl_bootstrap_servers=self.sasl_bootstrap_servers if self.scram else None,
            run_dir=self.run_dir,
            log_file=self.log_file,
            ssl_bootstrap_servers=self.ssl_bootstrap_servers if self.ssl_port else None,
            sasl_ssl_bootstrap_servers=(
                self.sasl_ssl_bootstrap_servers if self.sasl_ssl_port else None
            ),
        )

    # -- Kafka's own tools ------------------------------------------------------------

    def client_properties(self, user: str) -> Path:
        """Write a Java client config that logs in as SCRAM ``user``; for ``--command-config``."""
        if user not in self.scram_users:
            raise LocalKafkaError(f"{user!r} is not a SCRAM user of broker {self.name!r}")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        path = self.run_dir / f"client-{user}.properties"
        jaas = (
            "org.apache.kafka.common.security.scram.ScramLoginModule required "
            f'username="{user}" password="{self.scram_users[user]}";'
        )
        path.write_text(
            "security.protocol=SASL_PLAINTEXT\n"
            f"sasl.mechanism={_SCRAM_MECHANISM}\n"
            f"sasl.jaas.config={jaas}\n",
            encoding="utf-8",
        )
        path.chmod(0o600)
        return path

    def run_tool(self, main_class: str, *args: str, timeout: float = 120) -> str:
        """Run one of Kafka's Java tools (e.g. ``kafka.admin.AclCommand``); return its stdout.

        Raises LocalKafkaError with the tool's last output lines when it exits non-zero.
        """
        self.run_dir.mkdir(parents=True, exist_ok=True)
        return run_kafka_tool(
            main_class, *args, run_dir=self.run_dir, cache_dir=self._cache_dir, timeout=timeout
        )

    # -- internals --------------------------------------------------------------------

    def _start(self, timeout: float) -> None:
        for port in self._ports:
            if port is not None and _port_open(port):
                raise LocalKafkaError(
                    f"port {port} on 127.0.0.1 is taken by another process; stop it or give "
                    f"broker {self.name!r} other ports"
                )
        self._server_properties.write_text(self._render_server_properties(), encoding="utf-8")
        self._server_properties.chmod(0o600)  # may hold a private key
        self._format_storage_once()
        pid = spawn_broker(
            self._server_properties,
            run_dir=self.run_dir,
            log_file=self.log_file,
            # 1 GiB: every test run leaves its topics behind (a fresh prefix each), and a
            # long-lived local broker with ~15,000 partitions ran out of 512 MiB.
            jvm_opts=("-Xmx1g", "-XX:+UseSerialGC"),
            cache_dir=self._cache_dir,
            append=False,
        )
        self._pid_file.write_text(f"{pid}\n", encoding="utf-8")
        try:
            self._wait_until_ready(pid, timeout)
        except BaseException:
            _terminate(pid)
            self._pid_file.unlink(missing_ok=True)
            raise

    def _render_server_properties(self) -> str:
        listeners = [
            f"PLAINTEXT://127.0.0.1:{self.port}",
            f"CONTROLLER://127.0.0.1:{self.controller_port}",
        ]
        advertised = [f"PLAINTEXT://127.0.0.1:{self.port}"]
        protocols = ["CONTROLLER:PLAINTEXT", "PLAINTEXT:PLAINTEXT"]
        extra = [
            ("SASL_PLAINTEXT", self.sasl_port),
            ("SSL", self.ssl_port),
            ("SASL_SSL", self.sasl_ssl_port),
        ]
        for listener, port in extra:
            if port is not None:
                listeners.append(f"{listener}://127.0.0.1:{port}")
                advertised.append(f"{listener}://127.0.0.1:{port}")
                protocols.append(f"{listener}:{listener}")
        props: dict[str, str] = {
            "process.roles": "broker,controller",
            "node.id": str(_NODE_ID),
            "controller.quorum.bootstrap.servers": f"127.0.0.1:{self.controller_port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listeners": ",".join(listeners),
            "advertised.listeners": ",".join(advertised),
            "listener.security.protocol.map": ",".join(protocols),
            "log.dirs": str(self._data_dir),
            # One node: every internal topic has one replica and needs one in sync.
            "num.partitions": "1",
            "default.replication.factor": "1",
            "min.insync.replicas": "1",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "1",
            "group.initial.rebalance.delay.ms": "0",
            # The hub creates its topics explicitly; a typo must fail, not create a topic.
            "auto.create.topics.enable": "false",
            "log.segment.bytes": str(16 * 1024 * 1024),
            "log.retention.check.interval.ms": "60000",
        }
        if self.scram:
            props |= {
                "sasl.enabled.mechanisms": _SCRAM_MECHANISM,
                "listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config": (
                    "org.apache.kafka.common.security.scram.ScramLoginModule required;"
                ),
                "authorizer.class.name": (
                    "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
                ),
                "allow.everyone.if.no.acl.found": "false",
                # The controller and inter-broker listeners are PLAINTEXT: their principal
                # is ANONYMOUS, and the broker must be allowed to talk to itself.
                "super.users": "User:hub;User:ANONYMOUS",
            }
            if self.sasl_ssl_port is not None:
                props["listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config"] = (
                    "org.apache.kafka.common.security.scram.ScramLoginModule required;"
                )
        if self.tls is not None:
            props |= self._tls_properties(self.tls)
        header = (
            f"# Written by hub.dev.localkafka for broker {self.name!r}; rewritten at each start.\n"
        )
        return header + "".join(f"{key}={value}\n" for key, value in props.items())

    def _tls_properties(self, tls: TlsFiles) -> dict[str, str]:
        """PEM key store (and trust store) of the SSL and SASL_SSL listeners, inlined.

        Inlined rather than ``ssl.keystore.location``: Kafka's file-based PEM store
        insists on an encrypted key, while the inline form takes an unencrypted one.
        """
        chain = _properties_text(tls.certificate_chain)
        key = _properties_text(tls.private_key)
        props: dict[str, str] = {
            # A client certificate's CN is its user: CN=hub is User:hub (a super user).
            "ssl.principal.mapping.rules": "RULE:^CN=([^,]+).*$/$1/,DEFAULT",
        }
        names = ["ssl"] + (["sasl_ssl"] if self.sasl_ssl_port is not None else [])
        for name in names:
            prefix = f"listener.name.{name}."
            props |= {
                f"{prefix}ssl.keystore.type": "PEM",
                f"{prefix}ssl.keystore.certificate.chain": chain,
                f"{prefix}ssl.keystore.key": key,
            }
        if tls.client_ca is not None:
            props |= {
                "listener.name.ssl.ssl.truststore.type": "PEM",
                "listener.name.ssl.ssl.truststore.certificates": _properties_text(tls.client_ca),
                "listener.name.ssl.ssl.client.auth": "required",
            }
        return props

    def _format_storage_once(self) -> None:
        state = self._read_state()
        if state is not None and (self._data_dir / "meta.properties").is_file():
            if state.get("controller_port") != self.controller_port:
                raise LocalKafkaError(
                    f"broker {self.name!r} was formatted with controller port "
                    f"{state.get('controller_port')}; reset it (python -m hub.dev.localkafka "
                    f"reset --name {self.name}) to change ports"
                )
            return
        # Never formatted, or formatting was interrupted: start from an empty data dir.
        shutil.rmtree(self._data_dir, ignore_errors=True)
        cluster_id = self.run_tool("kafka.tools.StorageTool", "random-uuid").strip().split()[-1]
        args = ["format", "--standalone", "-t", cluster_id, "-c", str(self._server_properties)]
        for user, password in self.scram_users.items():
            args += ["--add-scram", f"{_SCRAM_MECHANISM}=[name={user},password={password}]"]
        self.run_tool("kafka.tools.StorageTool", *args)
        self._write_state(
            {
                "kafka_version": KAFKA_VERSION,
                "cluster_id": cluster_id,
                "controller_port": self.controller_port,
                "scram_users": self._scram_fingerprints(),
            }
        )

    def _sync_scram_users(self) -> None:
        """Add or update SCRAM users asked for since the storage was formatted."""
        state = self._read_state() or {}
        applied: dict[str, str] = dict(state.get("scram_users") or {})
        wanted = self._scram_fingerprints()
        for user, fingerprint in wanted.items():
            if applied.get(user) == fingerprint:
                continue
            self.run_tool(
                "kafka.admin.ConfigCommand",
                "--bootstrap-server",
                self.bootstrap_servers,
                "--alter",
                "--add-config",
                f"{_SCRAM_MECHANISM}=[password={self.scram_users[user]}]",
                "--entity-type",
                "users",
                "--entity-name",
                user,
            )
            applied[user] = fingerprint
            self._write_state({**state, "scram_users": applied})

    def _scram_fingerprints(self) -> dict[str, str]:
        # Only whether a password changed matters; the password itself is not stored.
        return {
            user: hashlib.sha256(f"{user}:{password}".encode()).hexdigest()
            for user, password in sorted(self.scram_users.items())
        }

    def _read_state(self) -> dict[str, Any] | None:
        try:
            loaded: dict[str, Any] = json.loads(self._state_file.read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        return loaded

    def _write_state(self, state: Mapping[str, Any]) -> None:
        tmp = self._state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        tmp.replace(self._state_file)

    def _live_pid(self) -> int | None:
        """The pid from the pid file when that process lives and is this broker."""
        try:
            pid = int(self._pid_file.read_text(encoding="utf-8").strip())
        except (FileNotFoundError, ValueError):
            return None
        if not _is_alive(pid) or not _runs_config(pid, self._server_properties):
            return None
        return pid

    def _wait_until_ready(self, pid: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if not _is_alive(pid):
                raise LocalKafkaError(
                    f"broker {self.name!r} (pid {pid}) exited while starting. "
                    f"Last lines of {self.log_file}:\n{_tail_file(self.log_file)}"
                )
            if _port_open(self.port) and _answers_metadata(self.bootstrap_servers):
                return
            if time.monotonic() > deadline:
                raise LocalKafkaError(
                    f"broker {self.name!r} (pid {pid}) did not answer on "
                    f"{self.bootstrap_servers} within {timeout:.0f}s. When its data is "
                    "from an earlier, interrupted run, `python -m hub.dev.localkafka reset` "
                    "starts it afresh (deleting that data). "
                    f"Last lines of {self.log_file}:\n{_tail_file(self.log_file)}"
                )
            time.sleep(0.25)


# -- helpers --------------------------------------------------------------------------


def _properties_text(path: Path) -> str:
    """A PEM file as one line of a Java properties file (newlines as ``\\n`` escapes)."""
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise LocalKafkaError(f"cannot read PEM file {path} ({type(exc).__name__})") from None
    return text.strip().replace("\\", "\\\\").replace("\n", "\\n")


def run_kafka_tool(
    main_class: str,
    *args: str,
    run_dir: Path,
    cache_dir: Path | None = None,
    timeout: float = 120,
) -> str:
    """Run one of Kafka's Java tools (e.g. ``kafka.tools.StorageTool``); return its stdout.

    Raises LocalKafkaError with the tool's last output lines when it exits non-zero.
    """
    libs = fetch_kafka_jars(cache_dir=cache_dir)
    log4j = run_dir / "tools-log4j.properties"
    log4j.write_text(_TOOL_LOG4J, encoding="utf-8")
    command = [
        _java(),
        *_TOOL_JVM_OPTS,
        f"-Dlog4j.configuration=file:{log4j}",
        "-cp",
        f"{libs}/*",
        main_class,
        *args,
    ]
    try:
        result = subprocess.run(  # noqa: S603 - argv built here, no shell
            command, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise LocalKafkaError(f"{main_class} did not finish within {timeout:.0f}s") from exc
    if result.returncode != 0:
        raise LocalKafkaError(
            f"{main_class} failed (exit {result.returncode}). Last lines of its output:\n"
            + _tail(result.stdout + result.stderr)
        )
    return result.stdout


def spawn_broker(
    server_properties: Path,
    *,
    run_dir: Path,
    log_file: Path,
    jvm_opts: Sequence[str],
    cache_dir: Path | None = None,
    append: bool = False,
) -> int:
    """Start a Kafka broker JVM on ``server_properties`` in its own session; its pid."""
    java = _java()
    libs = fetch_kafka_jars(cache_dir=cache_dir)
    log4j = run_dir / "log4j.properties"
    log4j.write_text(_BROKER_LOG4J, encoding="utf-8")
    argv = [
        java,
        *jvm_opts,
        "-Djava.awt.headless=true",
        f"-XX:ErrorFile={run_dir}/hs_err_pid%p.log",
        f"-Dlog4j.configuration=file:{log4j}",
        "-cp",
        f"{libs}/*",
        "kafka.Kafka",
        str(server_properties),
    ]
    # posix_spawn rather than subprocess.Popen: the broker outlives this process, and a
    # Popen object for a still-running child warns (ResourceWarning) when collected.
    return os.posix_spawn(
        java,
        argv,
        dict(os.environ),
        file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (
                os.POSIX_SPAWN_OPEN,
                1,
                str(log_file),
                os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC),
                0o644,
            ),
            (os.POSIX_SPAWN_DUP2, 1, 2),
        ],
        setsid=True,
    )


def _java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").is_file():
        return str(Path(java_home) / "bin" / "java")
    java = shutil.which("java")
    if java is None:
        raise LocalKafkaError(
            "java is not on PATH (and JAVA_HOME is not set); the local Kafka broker needs "
            "a Java 17+ runtime. Install one (Debian/Ubuntu: apt-get install "
            "openjdk-17-jre-headless; macOS: brew install openjdk@17), or run the broker "
            "with Docker (compose/)."
        )
    return java


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock, so parallel test sessions do not race."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _is_alive(pid: int) -> bool:
    # Reap the broker if this very process started it and it died: a zombie answers kill(0).
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8")
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


def _runs_config(pid: int, server_properties: Path) -> bool:
    """Whether ``pid`` is a Kafka broker started on this config (guards against pid reuse)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        try:
            cmdline = subprocess.run(  # noqa: S603 - fixed argv
                ["ps", "-o", "command=", "-p", str(pid)],  # noqa: S607 - ps from PATH
                capture_output=True,
                text=True,
                timeout=5,
                check=False,
            ).stdout
        except (OSError, subprocess.TimeoutExpired):
            return True
    return "kafka.Kafka" in cmdline and str(server_properties) in cmdline


def _wait_for_exit(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _is_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def _terminate(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
        if not _wait_for_exit(pid, 15):
            os.kill(pid, signal.SIGKILL)
            _wait_for_exit(pid, 5)


def _answers_metadata(bootstrap_servers: str) -> bool:
    """Whether the broker answers a metadata request and lists itself (not just an open port)."""

    async def probe() -> bool:
        from hub.kafka import broker_ids

        return _NODE_ID in await broker_ids(bootstrap_servers)

    # A thread of its own: the caller may be inside a running event loop (or own one).
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, probe()).result()


_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _tail(text: str, lines: int = 25) -> str:
    plain = _ANSI_ESCAPE.sub("", text)
    return "\n".join(plain.strip().splitlines()[-lines:]) or "(no output)"


def _tail_file(path: Path, lines: int = 25) -> str:
    try:
        return _tail(path.read_text(encoding="utf-8", errors="replace"), lines)
    except OSError:
        return "(no log)"


# -- command line ---------------------------------------------------------------------


def _parse_user(value: str) -> tuple[str, str]:
    user, sep, password = value.partition("=")
    if not sep or not user or not password:
        raise argparse.ArgumentTypeError("expected NAME=PASSWORD")
    return user, password


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m hub.dev.localkafka",
        description=f"A local single-node Apache Kafka {KAFKA_VERSION} broker, without Docker.",
    )
    parser.add_argument(
        "command", choices=["start", "ensure", "bootstrap", "status", "stop", "reset", "fetch"]
    )
    parser.add_argument("--name", help="broker name (default: dev, or scram with --scram)")
    parser.add_argument("--port", type=int, help="PLAINTEXT port (default 19092; 19192 SCRAM)")
    parser.add_argument("--controller-port", type=int, help="KRaft controller port")
    parser.add_argument("--scram", action="store_true", help="add a SASL/SCRAM listener and ACLs")
    parser.add_argument("--sasl-port", type=int, help="SASL_PLAINTEXT port (default port + 2)")
    parser.add_argument(
        "--scram-user",
        type=_parse_user,
        action="append",
        metavar="NAME=PASSWORD",
        help="a SCRAM user (repeatable; default hub=hub-local-secret)",
    )
    parser.add_argument("--tls-cert", type=Path, help="PEM certificate chain: adds an SSL listener")
    parser.add_argument("--tls-key", type=Path, help="PEM private key (PKCS#8, unencrypted)")
    parser.add_argument("--tls-client-ca", type=Path, help="PEM CA: SSL clients need a certificate")
    parser.add_argument("--ssl-port", type=int, help="SSL port (default port + 3)")
    parser.add_argument("--timeout", type=float, default=60, help="seconds to wait (default 60)")
    args = parser.parse_args(argv)
    if (args.tls_cert is None) != (args.tls_key is None):
        parser.error("--tls-cert and --tls-key go together")
    tls = (
        TlsFiles(args.tls_cert, args.tls_key, args.tls_client_ca)
        if args.tls_cert is not None
        else None
    )
    try:
        kafka = LocalKafka(
            args.name,
            args.port,
            args.controller_port,
            scram=args.scram,
            scram_users=dict(args.scram_user) if args.scram_user else None,
            sasl_port=args.sasl_port,
            tls=tls,
            ssl_port=args.ssl_port,
        )
    except ValueError as exc:
        parser.error(str(exc))
    try:
        return _run_command(kafka, args.command, args.timeout)
    except LocalKafkaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _run_command(kafka: LocalKafka, command: str, timeout: float) -> int:
    if command == "fetch":
        print(fetch_kafka_jars())
    elif command in ("start", "ensure", "bootstrap"):
        kafka.ensure_running(timeout)
        if command == "start":
            print(kafka.status().describe())
            print(kafka.bootstrap_servers)  # last line: for `make kafka` and scripts
        elif command == "bootstrap":
            print(kafka.bootstrap_servers)
    elif command == "status":
        status = kafka.status()
        print(status.describe())
        return 0 if status.listening else 1
    elif command == "stop":
        stopped = kafka.stop(timeout)
        print(f"kafka {kafka.name!r} {'stopped' if stopped else 'was not running'}")
    elif command == "reset":
        kafka.reset()
        print(f"kafka {kafka.name!r} stopped and {kafka.run_dir} deleted")
    return 0


if __name__ == "__main__":
    sys.exit(main())
