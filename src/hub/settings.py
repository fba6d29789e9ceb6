"""HubSettings: every setting of the hub in one typed model, read once in app.py.

Precedence (highest first): explicit constructor arguments, environment variables
(prefix ``HUB_``, nested sections joined by ``__``, e.g. ``HUB_KAFKA__BOOTSTRAP_SERVERS``),
a ``.env`` file in the working directory, then the defaults below.
"""

from __future__ import annotations

import base64
import binascii
import socket
from pathlib import Path
from typing import Annotated, Literal

from limits import parse_many
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from hub.connectors.registry import DEMO_REGISTRY_PATH
from hub.errors import ConfigurationError
from hub.iwmo.settings import IwmoSettings

__all__ = [
    "DEMO_PSEUDONYM_SECRET",
    "AuditSettings",
    "GatewaySettings",
    "HubSettings",
    "KafkaSettings",
    "LoggingSettings",
    "OpsSettings",
    "PrivacySettings",
    "RetrySettings",
    "WebhookSettings",
    "demo_defaults_in_use",
    "read_settings",
    "setting_names",
]

_DAY_MS = 24 * 60 * 60 * 1000
DEMO_PSEUDONYM_SECRET = "demo-only-pseudonym-secret-change-me"  # noqa: S105 - public on purpose; refused in production
# Ed25519 private key (base64) that signs the disclosure log's checkpoints in demos only.
DEMO_SIGNING_KEY = "3hbdEfgdrLDRyjd2TRcCRbBcNy0H6ycacHSt5w6Rolk="


class KafkaSettings(BaseModel):
    """Where the broker is and how the hub names and sizes its topics."""

    bootstrap_servers: str | None = Field(
        default=None,
        description="Kafka bootstrap servers. When unset, `hub demo` starts a local broker.",
    )
    topic_prefix: str = Field(default="sociaaldomein", description="Prefix of every hub topic.")
    partitions: int = Field(default=6, ge=1, description="Partitions of topics the hub creates.")
    replication_factor: int = Field(
        default=1,
        ge=1,
        description="Replication factor of created topics (3 in production).",
    )
    group_id: str = Field(default="hub-router", description="Consumer group of the router.")
    instance_id: str = Field(
        default_factory=socket.gethostname,
        description="Stable id of this hub instance; part of the transactional id, so a restarted "
        "instance fences its predecessor's unfinished transaction.",
    )
    personal_retention_ms: int = Field(
        default=30 * _DAY_MS, ge=1, description="Retention of topics that hold personal data."
    )
    disclosure_retention_ms: int = Field(
        default=7 * 365 * _DAY_MS, ge=1, description="Retention of the disclosure-log topic."
    )
    iwmo_retention_ms: int = Field(
        default=730 * _DAY_MS,
        ge=1,
        description="How long the gateway's iWmo records (care per assignment, used "
        "Identificaties, 302 outcomes) are kept after they were last written; they hold "
        "pseudonyms, so like the routing state they do not stay forever.",
    )
    max_batch: int = Field(
        default=500, ge=1, description="Most records the router processes in one transaction."
    )
    linger_ms: int = Field(
        default=5,
        ge=0,
        description="How long a producer waits to fill a batch before sending it (ms).",
    )
    max_batch_bytes: int = Field(
        default=256 * 1024,
        ge=1024,
        description="Largest batch of records a producer sends to one partition (bytes).",
    )
    compression: Literal["gzip"] | None = Field(
        default=None,
        description="Compression of the batches the hub produces: none, or gzip (the only "
        "codec that needs no extra library; costs CPU, saves network and disk).",
    )
    fetch_max_bytes: int = Field(
        default=50 * 1024 * 1024,
        ge=1024,
        description="Most bytes a consumer fetches in one request over all partitions.",
    )
    max_partition_fetch_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        description="Most bytes a consumer fetches from one partition in one request.",
    )
    fetch_max_wait_ms: int = Field(
        default=20,
        ge=0,
        le=500,
        description="Longest a broker holds a consumer's fetch while none of its partitions "
        "has new records (ms); records that arrive on a partition left out of that fetch "
        "wait for it.",
    )
    transaction_retry_backoff_ms: int = Field(
        default=20,
        ge=1,
        le=1000,
        description="How long a transactional producer (the router's, the KPI ledger's, "
        "the iWmo writer's) waits before it retries a request the broker refused for now "
        "(ms). Brokers 3.6+ verify each transaction's partitions and refuse a "
        "transaction's first records with NOT_ENOUGH_REPLICAS while the previous one's "
        "markers are being written; aiokafka's 100 ms default then added 100 ms to a "
        "batch several times a second (the router's p99 at 500 events/s: 302-321 ms, "
        "against 119-135 ms with 20). It is the wait before every retry of these producers.",
    )
    security_protocol: Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL", "SSL"] = Field(
        default="PLAINTEXT",
        description="How clients talk to the broker: SSL and SASL_SSL encrypt with TLS "
        "(the ssl_* settings); SASL_* log in (the sasl_* settings). Production uses SSL or "
        "SASL_SSL: records carry BSNs.",
    )
    sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] | None = Field(
        default=None, description="SASL mechanism; required with SASL_PLAINTEXT and SASL_SSL."
    )
    sasl_username: str | None = Field(default=None, description="SASL user name.")
    sasl_password: SecretStr | None = Field(default=None, description="SASL password.")
    ssl_cafile: Path | None = Field(
        default=None,
        description="PEM file of the CA certificates that signed the broker's certificates "
        "(SSL, SASL_SSL); unset: the system's trust store.",
    )
    ssl_certfile: Path | None = Field(
        default=None,
        description="PEM file of the hub's client certificate (and its chain), for brokers "
        "that require client certificates; needs ssl_keyfile.",
    )
    ssl_keyfile: Path | None = Field(
        default=None, description="PEM file of the private key of ssl_certfile."
    )
    ssl_key_password: SecretStr | None = Field(
        default=None, description="Password of an encrypted ssl_keyfile."
    )
    ssl_check_hostname: bool = Field(
        default=True,
        description="Check that the broker's certificate names the host the hub connects "
        "to. Switch off only for a broker whose certificate cannot name its address; the "
        "certificate itself is still verified against ssl_cafile.",
    )


class RetrySettings(BaseModel):
    """Bounded exponential backoff for transient failures (broker unavailable)."""

    initial_seconds: float = Field(default=0.2, gt=0, description="First wait.")
    max_seconds: float = Field(default=10.0, gt=0, description="Longest single wait.")


class PrivacySettings(BaseModel):
    """The routing/privacy table and the pseudonym key."""

    policy_file: Path | None = Field(
        default=None, description="Routing/privacy table (YAML); default: the spec's defaults."
    )
    pseudonym_secret: SecretStr = Field(
        default=SecretStr(DEMO_PSEUDONYM_SECRET),
        description="The current HMAC-SHA256 key for BSN pseudonyms in the disclosure log and "
        "the routing state (at least 16 bytes). The default is for demos only; production "
        "must set its own.",
    )
    pseudonym_key_id: str = Field(
        default="k1",
        pattern=r"^[A-Za-z0-9._-]{1,32}$",
        description="The id of the current pseudonym key; each disclosure record names it. "
        "Records written before records named a key were made with the deployment's first "
        "key, `k1` unless renamed. Give a new key a new id when rotating.",
    )
    previous_pseudonym_secrets: dict[
        Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,32}$")], SecretStr
    ] = Field(
        default_factory=dict,
        description="Earlier pseudonym keys by id (JSON object, id -> secret), kept after a "
        "rotation so lookups by BSN still find records and state made with them; they make no "
        "new pseudonyms. Drop one only once no retained record or state entry uses it.",
    )
    result_areas: (
        tuple[Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"\S")], ...]
        | None
    ) = Field(
        default=None,
        min_length=1,
        description="The municipality's result-area list; default: the spec's list. Each "
        "1-64 characters and not blank, as the contract's result_area field takes them.",
    )
    state_retention_days: int = Field(
        default=730,
        ge=1,
        description="How long routing state is kept after its case or assignment ended.",
    )
    retention_sweep_seconds: float = Field(
        default=3600.0, gt=0, description="How often the router forgets expired routing state."
    )
    view_schema_base_url: str = Field(
        default="https://schemas.sociaaldomein.example/",
        pattern=r"^https?://\S+/$",
        description="Where the published view schemas live: each delivery's `dataschema` is "
        "this plus `v1/views/<role>/<type>.json`. The default is the published schemas' own "
        "`$id` base; set it to where this deployment serves its `hub schemas export` output.",
    )


class StateSettings(BaseModel):
    """Where the running hub keeps its routing state (a cache of the state changelog)."""

    directory: Path | None = Field(
        default=None,
        description="Directory of the routing state's SQLite file (unlinked once open, rebuilt "
        "from the changelog on every start); default: the system's temporary directory.",
    )
    cached_values: int = Field(
        default=4096,
        ge=0,
        description="Decoded state values kept in memory for the keys in use, with the keys "
        "last found absent.",
    )


class OfficerCredential(BaseModel):
    """A privacy officer who may query the disclosure log over ``hub audit serve``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(
        pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", description="Named in every query's log line."
    )
    api_key_sha256: str = Field(
        pattern=r"^[0-9a-f]{64}$", description="SHA-256 (lower-case hex) of the officer's API key."
    )


class AuditSettings(BaseModel):
    """Where the queryable copy of the disclosure log lives, and who may query it."""

    store_url: str = Field(
        default="sqlite:///.hub-run/audit.sqlite3",
        description="sqlite:///PATH (default) or postgresql://... .",
    )
    register_base_uri: str = Field(
        default="https://register.gemeente.example/verwerkingsactiviteiten/",
        pattern=r"^\S+[/:#]$",
        description="Base URI of the organisation's register of processing activities (AVG "
        "art. 30): a Logboek record's dpl.core.processing_activity_id is this plus the "
        "table's activity name. The default is an example; set the register's own.",
    )
    api_host: str = Field(
        default="127.0.0.1", description="Address `hub audit serve` listens on (loopback)."
    )
    api_port: int = Field(default=8083, ge=1, le=65535, description="Port of `hub audit serve`.")
    officers: tuple[OfficerCredential, ...] = Field(
        default=(),
        description="Privacy officers who may query the log (JSON list of {id, api_key_sha256}).",
    )
    signing_key: SecretStr = Field(
        default=SecretStr(DEMO_SIGNING_KEY),
        description="Ed25519 private key (32 bytes, base64) that signs the log's checkpoints "
        "(hub.audit.chain). The default is for demos only; production must set its own.",
    )
    signing_key_id: str = Field(
        default="demo",
        pattern=r"^[A-Za-z0-9._-]{1,64}$",
        description="Named in each checkpoint, so a verifier knows which public key to use.",
    )
    verify_keys: dict[str, str] = Field(
        default_factory=dict,
        description="Public keys (32 bytes, base64) of earlier signing keys, by key id: "
        "`hub audit verify` checks their checkpoints too (the current key's is derived).",
    )
    checkpoint_every: int = Field(
        default=100, ge=1, description="A signed checkpoint after this many records of a chain."
    )

    @field_validator("signing_key")
    @classmethod
    def _an_ed25519_key(cls, value: SecretStr) -> SecretStr:
        try:
            raw = base64.b64decode(value.get_secret_value(), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("not base64") from None
        if len(raw) != 32:
            raise ValueError("an Ed25519 private key is 32 bytes")
        return value


class WebhookSettings(BaseModel):
    """Timeouts, the retry budget and the circuit breaker of webhook deliveries."""

    timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        description="Longest wait for each single write or read of an attempt (the request "
        "body, each chunk of the answer); attempt_timeout_seconds bounds the attempt as a whole.",
    )
    connect_timeout_seconds: float = Field(
        default=5.0, gt=0, description="Longest wait for a connection, per attempt."
    )
    attempt_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        description="Longest time one attempt may take in all (connect, send, response "
        "headers); the per-read timeouts above do not stop a receiver that drips its "
        "answer. An attempt cut off here counts as TIMEOUT and is retried.",
    )
    max_attempts: int = Field(
        default=12, ge=1, description="Attempts per delivery before it is parked."
    )
    max_elapsed_seconds: float = Field(
        default=7200.0,
        gt=0,
        description="Time per delivery after which it is parked: no retry starts after it.",
    )
    initial_backoff_seconds: float = Field(
        default=1.0, gt=0, description="Wait before the first retry; doubles each attempt."
    )
    max_backoff_seconds: float = Field(
        default=300.0, gt=0, description="Longest wait between two attempts, jitter included."
    )
    jitter_seconds: float = Field(
        default=1.0, ge=0, description="Random extra wait, up to this, added to each backoff."
    )
    retry_after_max_seconds: float = Field(
        default=600.0, ge=0, description="Longest Retry-After the hub honours."
    )
    breaker_failure_threshold: int = Field(
        default=5, ge=1, description="Consecutive failed attempts that open a partner's breaker."
    )
    breaker_cooldown_seconds: float = Field(
        default=30.0, gt=0, description="Time an open breaker waits before one probe attempt."
    )


class GatewaySettings(BaseModel):
    """Settings of the inbound HTTP API (`hub gateway`)."""

    host: str = Field(default="127.0.0.1", description="Address uvicorn binds to.")
    port: int = Field(default=8080, ge=0, le=65535, description="Port uvicorn binds to.")
    ops_port: int = Field(
        default=8082,
        ge=0,
        le=65535,
        description="Port of the gateway's own ops server (/metrics, /healthz, /readyz) on "
        "HUB_OPS__HOST; apart from the partners' port, so partners never see the metrics.",
    )

    tls_certfile: Path | None = Field(
        default=None, description="Server certificate (PEM); HTTPS when set, plain HTTP otherwise."
    )
    tls_keyfile: Path | None = Field(default=None, description="Private key of the certificate.")
    tls_client_ca: Path | None = Field(
        default=None,
        description="CA bundle (PEM) that client certificates must chain to; enables mTLS.",
    )
    tls_client_cert: Literal["optional", "required"] = Field(
        default="optional",
        description="With a client CA: 'optional' lets API-key partners connect without a "
        "certificate; 'required' refuses the TLS handshake without a valid one.",
    )

    max_body_bytes: int = Field(
        default=1_048_576,
        # The contract accepts every event up to 256 KiB of compact JSON (messages.md,
        # Size), and a partner's JSON may write each non-ASCII character as a \uXXXX
        # escape (the CloudEvents SDK does): up to three times the bytes. A smaller limit
        # would refuse such an event as too large.
        ge=786_432,
        description="Largest request body accepted (at least 768 KiB: a 256 KiB event, the "
        "contract's limit, written with \\u escapes); larger ones are refused with 413 while "
        "reading: EVENT_TOO_LARGE for one event, BODY_TOO_LARGE for a batch.",
    )
    max_batch_events: int = Field(
        default=100, ge=1, le=1000, description="Most events in one batch-mode request."
    )
    rate_limit: str = Field(
        default="1200/minute",
        description="Events per partner in a moving window (limits syntax, e.g. '1200/minute'; "
        "several separated by ';'). A batch costs one per event, any other request one.",
    )
    body_timeout_seconds: float = Field(
        default=10.0, gt=0, description="Longest time to receive a request body (else 408)."
    )
    kafka_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        description="Longest wait for Kafka to acknowledge an event before answering 503.",
    )
    retry_after_seconds: int = Field(
        default=5, ge=1, description="Retry-After sent with 503 when Kafka is unavailable."
    )
    recent_ids: int = Field(
        default=100_000,
        ge=0,
        description="Accepted (source, id) pairs remembered, so a resend is answered without "
        "producing it again and its status reads 'accepted' until the router has processed it.",
    )
    status_max_records: int = Field(
        default=1_000_000,
        ge=1,
        description="Status records held in memory from the status topic; the oldest are "
        "dropped first.",
    )
    limit_concurrency: int | None = Field(
        default=1000, ge=1, description="Connections and tasks uvicorn serves at once (else 503)."
    )
    timeout_keep_alive: int = Field(
        default=5, ge=1, description="Seconds an idle keep-alive connection stays open."
    )
    header_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        description="Longest time from accepting a connection, or from the end of the previous "
        "response on a keep-alive connection, until a request's headers are complete; the "
        "connection is closed after it, however slowly bytes keep arriving.",
    )
    max_requests_per_connection: int = Field(
        default=1000,
        ge=1,
        description="Requests served on one keep-alive connection; the last answer carries "
        "'Connection: close'.",
    )
    max_connections_per_client: int = Field(
        default=50,
        ge=1,
        description="Open connections from one client address; more are closed as soon as "
        "accepted, so one address cannot take the whole of limit_concurrency.",
    )
    auth_failure_limit: str = Field(
        default="20/minute",
        description="Failed authentications per client address in a moving window (limits "
        "syntax); past it every request from that address is answered 429 until the window "
        "has room again.",
    )
    allow_plain_http: bool = Field(
        default=False,
        description="Serve plain HTTP (no tls_certfile) on a non-loopback host; without it "
        "`hub gateway` refuses to start (exit 78). Loopback hosts may always serve plain HTTP.",
    )
    docs: bool = Field(default=True, description="Serve Swagger UI at /docs (from local assets).")
    pull_default_events: int = Field(
        default=100, ge=1, description="Deliveries in a GET /deliveries page without `limit`."
    )
    pull_max_events: int = Field(
        default=500, ge=1, le=5000, description="Largest `limit` GET /deliveries accepts."
    )
    pull_max_bytes: int = Field(
        default=4 * 1024 * 1024,
        ge=64 * 1024,
        description="Bytes of records (keys and data) in one GET /deliveries page; a page "
        "always holds at least one delivery, so one larger than this still goes out alone.",
    )
    pull_wait_seconds: float = Field(
        default=2.0,
        ge=0,
        le=30,
        description="How long GET /deliveries waits for a delivery when there is none newer "
        "than the cursor (a short long-poll); an empty page answers after it.",
    )
    pull_anchored_cursors: bool = Field(
        default=True,
        description="Give out pull cursors with anchors (version 3: a reset stream answers "
        "410). False gives out version 2 cursors, which gateways of earlier versions read: "
        "for a rolling upgrade, until every gateway runs this version (docs/deliveries.md).",
    )
    pull_timeout_seconds: float = Field(
        default=15.0,
        gt=0,
        description="Longest a GET /deliveries may take in all (a free reader, Kafka, the "
        "wait); past it the answer is 503 with Retry-After.",
    )
    pull_max_readers: int = Field(
        default=16,
        ge=1,
        description="GET /deliveries reads served at once, each with its own Kafka consumer; "
        "further ones wait for a free consumer within pull_timeout_seconds.",
    )
    pull_max_per_partner: int = Field(
        default=2,
        ge=1,
        description="GET /deliveries reads one partner may have in flight; more are answered "
        "429, so that one partner cannot hold every reader.",
    )

    @field_validator("rate_limit", "auth_failure_limit")
    @classmethod
    def _rate_limit_parses(cls, value: str) -> str:
        try:
            parse_many(value)
        except ValueError:
            raise ValueError("not a rate limit such as '1200/minute'") from None
        return value

    @model_validator(mode="after")
    def _tls_complete(self) -> GatewaySettings:
        if (self.tls_certfile is None) != (self.tls_keyfile is None):
            raise ValueError("tls_certfile and tls_keyfile are set together")
        if self.tls_client_ca is not None and self.tls_certfile is None:
            raise ValueError("mTLS (tls_client_ca) needs tls_certfile and tls_keyfile")
        if min(item.amount for item in parse_many(self.rate_limit)) < self.max_batch_events:
            # A full batch would never fit in the window: its partner could never send it.
            raise ValueError("every rate_limit window must allow at least max_batch_events")
        if self.pull_default_events > self.pull_max_events:
            raise ValueError("pull_default_events must not exceed pull_max_events")
        if self.pull_max_per_partner > self.pull_max_readers:
            raise ValueError("pull_max_per_partner must be at most pull_max_readers")
        if self.pull_wait_seconds >= self.pull_timeout_seconds:
            raise ValueError("pull_wait_seconds must be below pull_timeout_seconds")
        if (
            self.limit_concurrency is not None
            and self.max_connections_per_client >= self.limit_concurrency
        ):
            # Else one address could again fill every connection the server allows.
            raise ValueError("max_connections_per_client must be below limit_concurrency")
        return self


class OpsSettings(BaseModel):
    """The operations port of `hub run`: the page, /metrics, /healthz, /readyz (docs/operations.md)."""

    host: str = Field(
        default="127.0.0.1",
        description="Address the ops server binds to; loopback by default. It serves "
        "metrics, health, the operations page and the AsyncAPI document (no personal "
        "data), over plain HTTP.",
    )
    port: int = Field(
        default=8081, ge=0, le=65535, description="Port of the ops server; 0 picks a free one."
    )
    lag_interval_seconds: float = Field(
        default=15.0,
        gt=0,
        description="How often the backlog and lag gauges are read from Kafka's group offsets.",
    )
    readiness_timeout_seconds: float = Field(
        default=2.0, gt=0, description="Longest wait for the broker to answer a /readyz probe."
    )
    deadletters_interval_seconds: float = Field(
        default=5.0,
        gt=0,
        description="How often the operations page's dead letters are read from the "
        "dead-letter topic and the operators' log.",
    )
    safety_report_deadline_seconds: float = Field(
        default=300.0,
        gt=0,
        description="A safety report not delivered to Veilig Thuis within this time raises "
        "HubSafetyReportUndelivered; served as hub_safety_report_deadline_seconds, which the "
        "shipped alert rule compares with (deploy/prometheus/hub-alerts.yml).",
    )
    child_nice: int = Field(
        default=10,
        ge=0,
        le=19,
        description="How much lower the CPU priority of `hub run`'s child processes (the "
        "audit feed, the KPI aggregator) is than the router's (os.nice; 0: the same). They "
        "copy and count what the router has committed and may fall behind for a while; on "
        "a busy machine the router, which partners wait for, comes first.",
    )
    kpi: bool = Field(
        default=True,
        description="Run the flow-KPI aggregator in this `hub run` (the `<prefix>.kpi` topic, "
        "`hub kpi`). With several instances of one deployment, turn it on in one only: a "
        "second fences the first's writes.",
    )
    kpi_interval_seconds: float = Field(
        default=5.0,
        gt=0,
        description="How long the KPI aggregator waits after Kafka trouble before it reads "
        "its ledger again.",
    )
    partner_groups: dict[str, str] = Field(
        default_factory=dict,
        description="Consumer groups of partners that read their deliveries topic with a "
        "Kafka client of their own, by partner id (JSON, e.g. "
        '`{"veilig-thuis-ijsselland": "vt-hub-reader"}`): their backlog and oldest undelivered '
        "age are measured like a webhook partner's.",
    )


class LoggingSettings(BaseModel):
    """Log rendering; personal data is redacted whatever is chosen here."""

    format: Literal["json", "console"] = Field(default="json", description="json in production.")
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    library_repeat_seconds: float = Field(
        default=10.0,
        ge=0,
        description="A library's log record (aiokafka, uvicorn) that repeats with the same "
        "logger, message template and level is written at most once per this many seconds; "
        "the next line carries `suppressed`, the count left out. 0 writes every record.",
    )


class DeadLetterSettings(BaseModel):
    """The operators' dead-letter commands (`hub dlq`): the replay limit and the viewing's log."""

    max_replays: int = Field(
        default=3,
        ge=1,
        description="A dead letter that already results from this many replays is not replayed "
        "again by `hub dlq replay`: a cause that replays do not fix must not go round forever.",
    )
    view_legal_basis: str = Field(
        default="AVG art. 6(1)(e) and 32: operating the hub (investigating a dead letter)",
        description="Legal basis in the disclosure record of an operator viewing a dead "
        "letter's personal data (`hub dlq show --with-personal-data`).",
    )
    view_processing_activity: str = Field(
        default="hub-operations",
        description="Processing activity (AVG art. 30 register id) of that disclosure record.",
    )


class HubSettings(BaseSettings):
    """All settings of the hub."""

    model_config = SettingsConfigDict(
        env_prefix="HUB_", env_nested_delimiter="__", env_file=".env", extra="ignore"
    )

    environment: Literal["production", "development"] = Field(
        default="production",
        description="'production' (default) refuses the demo registry and the demo pseudonym "
        "secret; 'development' (set by `make demo` and the tests) allows them.",
    )
    partners_file: Path = Field(
        default=DEMO_REGISTRY_PATH,
        description="Partner registry (YAML); default: demo registry (development only).",
    )
    kafka: KafkaSettings = KafkaSettings()
    retry: RetrySettings = RetrySettings()
    privacy: PrivacySettings = PrivacySettings()
    state: StateSettings = StateSettings()
    audit: AuditSettings = AuditSettings()
    webhooks: WebhookSettings = WebhookSettings()
    gateway: GatewaySettings = GatewaySettings()
    logging: LoggingSettings = LoggingSettings()
    ops: OpsSettings = OpsSettings()
    iwmo: IwmoSettings = IwmoSettings()
    deadletters: DeadLetterSettings = DeadLetterSettings()


def read_settings() -> HubSettings:
    """The settings from the environment; ``ConfigurationError`` naming the variables at fault.

    Not pydantic's own message: it quotes the value, and a mistyped setting may be a secret.
    """
    reasons = ""
    try:
        return HubSettings()
    except ValidationError as exc:
        names = ", ".join(setting_names(exc))
        reasons = ": " + setting_reasons(exc)
    except SettingsError:
        # A value that is not the JSON a structured setting needs; pydantic-settings names
        # the field in its message but not the value. Which field is not worth parsing out.
        names = "a structured setting (a JSON map or list)"
    raise ConfigurationError(
        "settings", names, f"not a valid value (the value is not shown){reasons}"
    )


def setting_names(
    exc: ValidationError, model: type[BaseModel] = HubSettings, prefix: str = "HUB_"
) -> list[str]:
    """The environment variables of the settings a validation error is about, each once.

    Cut where the settings' own fields end: below a map-valued setting the location holds
    the map's keys, and a mistyped map may have a secret where its key belongs.
    """
    return list(dict.fromkeys(_names_per_error(exc, model, prefix)))


def setting_reasons(
    exc: ValidationError, model: type[BaseModel] = HubSettings, prefix: str = "HUB_"
) -> str:
    """What is wrong with each setting, ``"HUB_X: <reason>; ..."``, never a value.

    Pydantic's ``msg`` of an error says what is wrong without the input (the input is a
    field of its own, left out): "Input should be a valid integer", or the sentence of a
    validator of the hub's ("not base64").
    """
    return "; ".join(
        dict.fromkeys(
            f"{name}: {error['msg']}"
            for error, name in zip(exc.errors(), _names_per_error(exc, model, prefix), strict=True)
        )
    )


def _names_per_error(
    exc: ValidationError, model: type[BaseModel] = HubSettings, prefix: str = "HUB_"
) -> list[str]:
    """The environment variable of each error, in the errors' order (see ``setting_names``)."""
    names = []
    for error in exc.errors():
        parts: list[str] = []
        current: type[BaseModel] | None = model
        for part in error["loc"]:
            if current is None or not isinstance(part, str) or part not in current.model_fields:
                break
            parts.append(part)
            annotation = current.model_fields[part].annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                current = annotation
            else:
                current = None
        names.append(prefix + "__".join(parts).upper() if parts else prefix + "*")
    return names


def demo_defaults_in_use(settings: HubSettings) -> list[str]:
    """The settings (as environment variables) still at a demo value that is public knowledge.

    The demo registry's API keys are printed in the README and the demo pseudonym secret
    is in this file: outside ``HUB_ENVIRONMENT=development`` either would let anyone post
    as a partner or reverse the pseudonyms in the disclosure log.
    """
    if settings.environment == "development":
        return []
    found = []
    if settings.partners_file.resolve() == DEMO_REGISTRY_PATH.resolve():
        found.append("HUB_PARTNERS_FILE")
    if settings.privacy.pseudonym_secret.get_secret_value() == DEMO_PSEUDONYM_SECRET:
        found.append("HUB_PRIVACY__PSEUDONYM_SECRET")
    previous = settings.privacy.previous_pseudonym_secrets.values()
    if any(secret.get_secret_value() == DEMO_PSEUDONYM_SECRET for secret in previous):
        found.append("HUB_PRIVACY__PREVIOUS_PSEUDONYM_SECRETS")
    if settings.audit.signing_key.get_secret_value() == DEMO_SIGNING_KEY:
        found.append("HUB_AUDIT__SIGNING_KEY")
    return found
