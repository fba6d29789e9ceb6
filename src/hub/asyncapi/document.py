"""The AsyncAPI 3.0 document of a deployment: every topic the hub creates and what rides on it.

Built as data from the code's own truth, not from FastStream's generator: FastStream
describes the subscribers and publishers registered on its broker and types their
payloads from handler annotations, while the hub's topics are served by a transactional
loop, named per partner at start-up, and their payloads are the contract's JSON Schemas,
the views the routing/privacy table cuts from them and the records' own schemas. So
each part comes from where it is defined:

- the channels from ``TopicLayout.all_topics`` (every topic the hub creates; a topic
  this module cannot describe fails the build, so a new one gets documented);
- what a partner sends from the connector catalogue (types whose sender role is its
  role), and what it receives from the routing/privacy table (the view its role gets of
  each type, ``hub.privacy.views``), in a partner format where its registry entry asks
  for one a connector renders (a provider with ``iwmo: true``: its 301s as XML);
- the payloads from ``hub.schemas.export`` (types, envelope), ``hub.privacy.views``
  (views), ``hub.records`` (status, dead letter) and ``hub.audit.record`` (disclosure
  records and delivery attempts);
- the Kafka headers and keys from the code that writes them (``hub.envelope``,
  ``hub.topics``, ``hub.records``, ``hub.delivery``).

Payload schemas keep to keywords draft-07 knows (the AsyncAPI Schema Object's base);
their ``$defs`` move to ``components.schemas`` so every ``$ref`` is a pointer into this
document. The document holds no example values: no event data appears in it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final

from hub import __version__
from hub.audit.chain import Checkpoint
from hub.audit.record import DeliveryAttempt, DisclosureRecord
from hub.connectors.discovery import Catalogue, catalogue
from hub.connectors.protocol import Renderer
from hub.connectors.registry import Partner, PartnerRegistry, PullDelivery, WebhookDelivery
from hub.delivery.channel import PARK_REASON_HEADER
from hub.delivery.sequence import SEQUENCE_HEADER
from hub.envelope import _CONTENT_TYPE_HEADER, _HEADER_ATTRIBUTES, _HEADER_PREFIX
from hub.privacy.policy import DEFAULT_POLICY_PATH, PrivacyPolicy, load_policy
from hub.privacy.views import view_file, view_schema_url, view_schemas
from hub.records import DEAD_LETTER_SCHEMA, STATUS_RECORD_SCHEMA
from hub.schemas import TYPES
from hub.schemas.export import data_schema, envelope_schema
from hub.settings import HubSettings, KafkaSettings
from hub.topics import DISCLOSURE_ID_HEADER, SUBJECT_KIND_HEADER, TopicLayout, TopicSpec

__all__ = ["ASYNCAPI_VERSION", "KAFKA_BINDING_VERSION", "asyncapi_document", "render_document"]

ASYNCAPI_VERSION: Final = "3.0.0"
KAFKA_BINDING_VERSION: Final = "0.5.0"

_JSON: Final = "application/json"
_STRUCTURED: Final = "application/cloudevents+json"
_REQUIRED_ATTRIBUTES: Final = ("specversion", "id", "source", "type", "time", "subject")
# What the hub's own events never carry (checked on the way in, then dropped).
_INBOUND_ONLY: Final = ("tracestate", "partitionkey")
_SECURITY: Final = {  # SASL mechanism -> AsyncAPI security scheme type
    "PLAIN": "plain",
    "SCRAM-SHA-256": "scramSha256",
    "SCRAM-SHA-512": "scramSha512",
}


def asyncapi_document(settings: HubSettings, registry: PartnerRegistry) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of this deployment's topics, as a JSON-ready dict.

    Deterministic for a given settings, registry, table and set of connectors. Raises
    ConfigurationError for a routing/privacy table that cannot be read, and ValueError
    for a topic the hub creates that this module cannot describe.
    """
    return _Builder(settings, registry).document()


def render_document(document: Mapping[str, Any]) -> bytes:
    """The document's bytes as served and written: sorted keys, two-space indent, UTF-8."""
    return (json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def _ref(*path: str) -> dict[str, str]:
    return {"$ref": "#/" + "/".join(part.replace("~", "~0").replace("/", "~1") for part in path)}


def _topic_binding(spec: TopicSpec, kafka: KafkaSettings) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for name, value in sorted(spec.config.items()):
        if name == "cleanup.policy":
            config[name] = value.split(",")
        elif name.endswith(".ms"):
            config[name] = int(value)
        else:
            config[name] = value
    return {
        "topic": spec.name,
        "partitions": kafka.partitions,
        "replicas": kafka.replication_factor,
        "topicConfiguration": config,
        "bindingVersion": KAFKA_BINDING_VERSION,
    }


def _key(description: str) -> dict[str, Any]:
    return {
        "kafka": {
            "key": {"type": "string", "description": description},
            "bindingVersion": KAFKA_BINDING_VERSION,
        }
    }


class _Builder:
    """Collects components while the channels are described; one per document."""

    def __init__(self, settings: HubSettings, registry: PartnerRegistry) -> None:
        self._settings = settings
        self._registry = registry
        self._layout = TopicLayout(settings.kafka.topic_prefix)
        self._catalogue: Catalogue = catalogue()
        privacy = settings.privacy
        self._policy: PrivacyPolicy = load_policy(
            privacy.policy_file or DEFAULT_POLICY_PATH, registry=registry
        )
        self._views = view_schemas(self._policy)
        self._envelope = envelope_schema()["properties"]
        self._schemas: dict[str, Any] = {}
        self._messages: dict[str, Any] = {}
        self._channels: dict[str, Any] = {}
        self._operations: dict[str, Any] = {}

    # --- the document ------------------------------------------------------------------

    def document(self) -> dict[str, Any]:
        kafka = self._settings.kafka
        describers = self._describers()
        for spec in self._layout.all_topics(self._registry, kafka):
            describe = describers.get(spec.name)
            if describe is None:
                raise ValueError(f"topic {spec.name} has no description in the AsyncAPI document")
            describe(spec)
        components: dict[str, Any] = {
            "schemas": dict(sorted(self._schemas.items())),
            "messages": dict(sorted(self._messages.items())),
        }
        server: dict[str, Any] = {
            "host": "{bootstrap_servers}",
            "protocol": "kafka-secure" if kafka.security_protocol.endswith("SSL") else "kafka",
            "description": f"The hub's Kafka cluster; every topic is prefixed "
            f"`{kafka.topic_prefix}.` (HUB_KAFKA__TOPIC_PREFIX).",
            "variables": {
                "bootstrap_servers": {
                    "description": "HUB_KAFKA__BOOTSTRAP_SERVERS: comma-separated host:port.",
                    **({"default": kafka.bootstrap_servers} if kafka.bootstrap_servers else {}),
                }
            },
        }
        mechanism = kafka.sasl_mechanism
        if mechanism is not None:
            components["securitySchemes"] = {
                "sasl": {
                    "type": _SECURITY[mechanism],
                    "description": f"SASL {mechanism}; each partner's principal may read only "
                    "its own deliveries topic and write only its own inbound topic (ACLs).",
                }
            }
            server["security"] = [_ref("components", "securitySchemes", "sasl")]
        return {
            "asyncapi": ASYNCAPI_VERSION,
            "id": f"urn:sociaal-hub:{kafka.topic_prefix}",
            "info": {
                "title": f"sociaal-hub topics ({kafka.topic_prefix})",
                "version": __version__,
                "description": (
                    "Every Kafka topic the hub creates and what is written on it: each "
                    "partner's inbound topic (CloudEvents it sends, binary or structured "
                    "mode), each partner's deliveries (the view of each type its role may "
                    "see under the routing/privacy table), the parked webhook deliveries, "
                    "the dead letters, the disclosure log, the status records and the "
                    "hub's own state. Generated from the code and this deployment's partner "
                    "registry and table (`hub asyncapi`); the contract is messages.md and "
                    "privacy.md."
                ),
                "license": {
                    "name": "EUPL-1.2",
                    "url": "https://interoperable-europe.ec.europa.eu/collection/eupl",
                },
            },
            "defaultContentType": _JSON,
            "servers": {"kafka": server},
            "channels": self._channels,
            "operations": self._operations,
            "components": components,
        }

    def _describers(self) -> dict[str, Callable[[TopicSpec], None]]:
        layout = self._layout
        found: dict[str, Callable[[TopicSpec], None]] = {
            layout.deadletter: self._deadletter,
            layout.disclosures: self._disclosures,
            layout.status: self._status,
            layout.state: self._internal(
                "state",
                "The routing state's compacted changelog: links, versions and pseudonyms, no "
                "names and no free text (docs/state.md). Written and read back by the router.",
                "A routing-state key (docs/state.md, Keys); a null value is a tombstone.",
            ),
            layout.held: self._internal(
                "held",
                "Held content: the latest plan per case, for assignments that go live later "
                "(docs/state.md, Held content). Personal data: compacted and deleted with "
                "personal data's retention.",
                "The case the plan belongs to.",
            ),
            layout.iwmo: self._internal(
                "iwmo",
                "The gateway's iWmo records (docs/iwmo.md): care per assignment, used "
                "Identificaties, 302 outcomes; numbers, codes and pseudonyms.",
                "The record's key (docs/iwmo.md, The state it reads).",
            ),
            layout.iwmo_receipts: self._internal(
                "iwmo-receipts",
                "The retour each iWmo 305/307 got, kept for replay (it echoes the sender's "
                "client: personal data's retention).",
                "A hash of the sender and the message's Identificatie.",
            ),
            layout.replay: self._internal(
                "replay",
                "Dead letters an operator replays (`hub dlq replay`): the original inbound "
                "record with `hub-replay-*` headers (origin, count, dead letter, operator), "
                "read by the router like an inbound topic. Written by operators only.",
                "The original record's key.",
            ),
            layout.kpi: self._internal(
                "kpi",
                "The flow KPIs' ledger (docs/operations.md, Flow KPIs): totals per team, month "
                "and KPI, budget positions, open and done pairs (ids, a team's name, times) and the "
                "inbound offsets read, written by `hub run`'s KPI aggregator in transactions "
                "and read by `hub kpi`. No personal data.",
                'A JSON array: ["total", team, month, kpi], ["budget", team, period], '
                '["open", pair, id], ["done", pair, id] or ["offsets"]; a null value is a '
                "tombstone.",
            ),
            layout.operations: self._internal(
                "operations",
                "What operators did to dead letters (replayed, viewed with personal data): "
                "ids, codes and the operator's name, kept as long as the disclosure log.",
                "The dead letter's id (`dl-<partition>-<offset>`).",
            ),
        }
        for partner in self._registry:
            found[layout.inbound(partner.id)] = self._inbound(partner)
            found[layout.deliveries(partner)] = self._deliveries(partner)
            found[layout.parked(partner.id)] = self._parked(partner)
        return found

    # --- schemas -------------------------------------------------------------------------

    def _schema(self, name: str, schema: Mapping[str, Any]) -> dict[str, str]:
        """Put a payload schema in components.schemas, each of its $defs beside it; its $ref.

        A definition is one component by its own name, shared by every schema that has
        the same one; a different definition of a name already taken is named after its
        owner (``<name>.<definition>``).
        """
        defs: Mapping[str, Any] = schema.get("$defs", {})
        keys = {def_name: def_name for def_name in defs}
        for def_name, body in defs.items():
            known = self._schemas.get(def_name)
            if known is not None and known != _rewrite(body, keys):
                keys[def_name] = f"{name}.{def_name}"
        for def_name, body in defs.items():
            self._schemas[keys[def_name]] = _rewrite(body, keys)
        own = {k: v for k, v in schema.items() if k not in ("$schema", "$id", "$defs")}
        self._schemas[name] = _rewrite(own, keys)
        return _ref("components", "schemas", name)

    # --- CloudEvents in binary mode --------------------------------------------------------

    def _ce_headers(
        self, event_type: str, *, inbound: bool, extra: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        properties: dict[str, Any] = {}
        for attribute in _HEADER_ATTRIBUTES:
            if not inbound and attribute in _INBOUND_ONLY:
                continue
            header = dict(self._envelope[attribute])
            if attribute == "type":
                header = {"type": "string", "const": event_type}
            properties[_HEADER_PREFIX + attribute] = header
        properties[_CONTENT_TYPE_HEADER] = {
            **self._envelope["datacontenttype"],
            "description": "The media type of the value (datacontenttype).",
        }
        properties.update(extra or {})
        headers: dict[str, Any] = {
            "type": "object",
            "description": "CloudEvents Kafka binary mode: each attribute a `ce_` header "
            "(UTF-8), the value the event's data.",
            "properties": properties,
            "required": [_HEADER_PREFIX + a for a in _REQUIRED_ATTRIBUTES],
        }
        if not inbound:
            # The hub's own records carry exactly these: a header it starts writing without
            # describing it here fails the test that checks its records against this document.
            headers["additionalProperties"] = False
        return headers

    def _inbound_message(self, event_type: str) -> dict[str, str]:
        spec = TYPES[event_type]
        name = f"{spec.short_name}.binary"
        if name not in self._messages:
            self._messages[name] = {
                "name": event_type,
                "title": f"{spec.short_name} (binary mode)",
                "summary": f"A `{event_type}` CloudEvent a `{spec.sender_role}` partner sends.",
                "contentType": _JSON,
                "headers": self._ce_headers(event_type, inbound=True),
                "payload": self._schema(f"data.{spec.short_name}", data_schema(spec)),
                "bindings": _key(f"The CloudEvent subject: `data.{spec.subject_field}`."),
            }
        return _ref("components", "messages", name)

    def _structured_message(self) -> dict[str, str]:
        name = "cloudevent.structured"
        if name not in self._messages:
            self._messages[name] = {
                "name": "cloudevent",
                "title": "A CloudEvent in structured mode",
                "summary": "Any type the partner's role sends, the whole event as the value "
                f"(`content-type: {_STRUCTURED}`); its data is checked by the type's schema.",
                "contentType": _STRUCTURED,
                "headers": {
                    "type": "object",
                    "properties": {
                        _CONTENT_TYPE_HEADER: {
                            "type": "string",
                            "description": f"`{_STRUCTURED}`; a record with no `ce_` header "
                            "is read as structured mode too. No `ce_` header may come with a "
                            "structured value (EXTENSION_NOT_ALLOWED).",
                        }
                    },
                },
                "payload": self._schema("cloudevent.envelope", envelope_schema()),
                "bindings": _key("The CloudEvent subject."),
            }
        return _ref("components", "messages", name)

    # --- channels --------------------------------------------------------------------------

    def _channel(
        self,
        channel_id: str,
        spec: TopicSpec,
        description: str,
        messages: Mapping[str, Mapping[str, str]],
        actions: tuple[str, ...],
    ) -> None:
        self._channels[channel_id] = {
            "address": spec.name,
            "description": description,
            "messages": dict(messages),
            "bindings": {"kafka": _topic_binding(spec, self._settings.kafka)},
        }
        for action in actions:
            self._operations[f"{action}.{channel_id}"] = {
                "action": action,
                "channel": _ref("channels", channel_id),
                "messages": [_ref("channels", channel_id, "messages", m) for m in messages],
            }

    def _inbound(self, partner: Partner) -> Callable[[TopicSpec], None]:
        def describe(spec: TopicSpec) -> None:
            sent = sorted(
                t for t, s in self._catalogue.types.items() if s.sender_role == partner.role
            )
            messages = {TYPES[t].short_name: self._inbound_message(t) for t in sent}
            messages["structured"] = self._structured_message()
            self._channel(
                f"inbound.{partner.id}",
                spec,
                f"What partner `{partner.id}` (role `{partner.role}`, source `{partner.source}`) "
                "sends: through the HTTP gateway or its own producer (binary or structured "
                "mode). The topic proves the sender; its principal may write only here. "
                "Stamped on append (LogAppendTime): receipt starts every retention clock.",
                messages,
                ("receive",),
            )

        return describe

    def _delivered(self, partner: Partner) -> Iterator[tuple[str, str, Renderer | None]]:
        """(type, role whose view it is, renderer) of each type this partner can receive."""
        types = sorted(
            {
                route.type
                for route in self._policy.routes
                if route.partner_id in (None, partner.id) and partner.role in route.roles
            }
        )
        for event_type in types:
            yield event_type, partner.role, self._renderer(partner, event_type)

    def _renderer(self, partner: Partner, event_type: str) -> Renderer | None:
        spec = TYPES[event_type]
        for connector in self._catalogue.connectors:
            if connector.role.name != partner.role:
                continue
            for renderer in connector.renderers:
                if renderer.format in partner.formats and (
                    event_type in renderer.types or spec.short_name in renderer.types
                ):
                    return renderer
        return None

    def _delivery_message(
        self, event_type: str, role: str, renderer: Renderer | None, *, parked: bool
    ) -> dict[str, str]:
        spec = TYPES[event_type]
        suffix = ".parked" if parked else ""
        extra: dict[str, Any] = {
            DISCLOSURE_ID_HEADER: {
                "type": "string",
                "description": "The id of the delivery's disclosure record (an id, no data).",
            },
            SUBJECT_KIND_HEADER: {
                "type": "string",
                "description": "What the subject identifies, <family>.<field> "
                "(referrals.referral_id): equal subjects of other kinds are other subjects.",
            },
        }
        if parked:
            extra[PARK_REASON_HEADER] = {
                "type": "string",
                "description": "Why it was parked: a code (HTTP_<status>, TIMEOUT, ...).",
            }
            extra[SEQUENCE_HEADER] = {
                "type": "string",
                "description": "The delivery's place in its stream before it was parked.",
            }
        if renderer is None:
            name = f"{spec.short_name}.to.{role}{suffix}"
            view = view_file(role, event_type)
            base = self._settings.privacy.view_schema_base_url
            extra[_HEADER_PREFIX + "dataschema"] = {
                "type": "string",
                "const": view_schema_url(role, event_type, base),
                "description": "The URL of the view's published JSON Schema.",
            }
            content_type = _JSON
            payload = self._schema(f"view.{role}.{spec.short_name}", self._views[view])
            summary = f"The view of `{event_type}` a `{role}` partner may see."
        else:
            name = f"{spec.short_name}.to.{role}.{renderer.format}{suffix}"
            content_type = renderer.content_type or "text/plain"
            payload = {
                "type": "string",
                "description": f"The document as text (UTF-8). {renderer.description}".strip(),
            }
            summary = (
                f"`{event_type}` in the `{renderer.format}` format a `{role}` partner asked "
                f"for (`{content_type}`, no dataschema); what the format cannot take stays "
                "JSON, as the view."
            )
        if name not in self._messages:
            headers = self._ce_headers(event_type, inbound=False, extra=extra)
            headers["properties"][_CONTENT_TYPE_HEADER] = {"type": "string", "const": content_type}
            if renderer is not None:  # the view's schema does not describe the document
                del headers["properties"][_HEADER_PREFIX + "dataschema"]
            self._messages[name] = {
                "name": event_type,
                "title": f"{spec.short_name} to {role}" + (" (parked)" if parked else ""),
                "summary": summary,
                "contentType": content_type,
                "headers": headers,
                "payload": payload,
                "bindings": _key(
                    "The delivery's subject (ce_subject): the event's, or the item's id for a "
                    "per-item delivery."
                ),
            }
        return _ref("components", "messages", name)

    def _delivery_messages(self, partner: Partner, *, parked: bool) -> dict[str, dict[str, str]]:
        messages: dict[str, dict[str, str]] = {}
        for event_type, role, renderer in self._delivered(partner):
            short = TYPES[event_type].short_name
            messages[short] = self._delivery_message(event_type, role, renderer, parked=parked)
            if renderer is not None:  # a delivery the format does not take stays JSON
                messages[f"{short}.json"] = self._delivery_message(
                    event_type, role, None, parked=parked
                )
        return messages

    def _deliveries(self, partner: Partner) -> Callable[[TopicSpec], None]:
        def describe(spec: TopicSpec) -> None:
            how = "read by the partner on Kafka, or pulled through GET /deliveries"
            if isinstance(partner.delivery, WebhookDelivery):
                how = "sent to its webhook by the hub (docs/webhooks.md)"
            elif isinstance(partner.delivery, PullDelivery):
                how = "pulled through GET /deliveries (docs/deliveries.md)"
            formats = sorted(partner.formats)
            self._channel(
                f"deliveries.{partner.id}",
                spec,
                f"What partner `{partner.id}` (role `{partner.role}`) receives: only the "
                "fields of each type the routing/privacy table lets its role see, "
                f"{how}. Written by the router in its transactions (read_committed)."
                + (f" Partner formats asked for: {', '.join(formats)}." if formats else ""),
                self._delivery_messages(partner, parked=False),
                ("send",),
            )

        return describe

    def _parked(self, partner: Partner) -> Callable[[TopicSpec], None]:
        def describe(spec: TopicSpec) -> None:
            self._channel(
                f"parked.{partner.id}",
                spec,
                f"Webhook deliveries to `{partner.id}` that ran out of retries, kept for "
                "replay (`hub replay`); the records of its deliveries topic with the park "
                "reason added.",
                self._delivery_messages(partner, parked=True),
                ("send", "receive"),
            )

        return describe

    def _deadletter(self, spec: TopicSpec) -> None:
        self._messages["deadletter"] = {
            "name": "dead-letter",
            "title": "Dead letter",
            "summary": "An inbound record the hub could not route: reason codes and paths, "
            "origin, digest and (when it could keep one) a copy for replay.",
            "contentType": _JSON,
            "headers": {
                "type": "object",
                "properties": {
                    "hub-reason-code": {"type": "string", "description": "The first error's code."},
                    "hub-partner": {
                        "type": "string",
                        "description": "The sending partner's id, or `unknown`.",
                    },
                },
                "required": ["hub-reason-code", "hub-partner"],
                "additionalProperties": False,
            },
            "payload": self._schema("DeadLetter", DEAD_LETTER_SCHEMA),
            "bindings": _key(
                "`<inbound topic>:<partition>` of the original: never the subject, which a "
                "rejected event may have made a BSN."
            ),
        }
        self._channel(
            "deadletter",
            spec,
            "Invalid and unroutable inbound records (docs/operations.md, Where a message can be).",
            {"deadletter": _ref("components", "messages", "deadletter")},
            ("send",),
        )

    def _disclosures(self, spec: TopicSpec) -> None:
        self._messages["disclosure"] = {
            "name": "disclosure-record",
            "title": "Disclosure record",
            "summary": "One per (event, recipient): released or withheld, which fields, on "
            "which legal basis; pseudonyms of the data subjects, never a BSN.",
            "contentType": _JSON,
            "payload": self._schema(
                "DisclosureRecord", DisclosureRecord.model_json_schema(mode="serialization")
            ),
            "bindings": _key(
                "The record's chain (`<inbound topic>:<partition>`): a chain keeps to one "
                "partition, in order; the disclosure id for a record of no chain."
            ),
        }
        attempt = DeliveryAttempt.model_json_schema(mode="serialization")
        attempt["properties"] = {
            "record_type": {"type": "string", "const": "delivery-attempt"},
            **attempt["properties"],
        }
        attempt["required"] = ["record_type", *attempt.get("required", [])]
        self._messages["delivery-attempt"] = {
            "name": "delivery-attempt",
            "title": "Delivery attempt",
            "summary": "One webhook transmission attempt of a released delivery, linked to its "
            "disclosure record; told apart by `record_type`.",
            "contentType": _JSON,
            "payload": self._schema("DeliveryAttempt", attempt),
            "bindings": _key("The disclosure id of the delivery attempted."),
        }
        self._messages["chain-checkpoint"] = {
            "name": "chain-checkpoint",
            "title": "Chain checkpoint",
            "summary": "A hash chain's head (its inbound partition's records up to seq), signed "
            "with the hub's Ed25519 key; told apart by `record_type` (hub.audit.chain).",
            "contentType": _JSON,
            "payload": self._schema(
                "Checkpoint", Checkpoint.model_json_schema(mode="serialization")
            ),
            "bindings": _key("The chain (`<inbound topic>:<partition>`), as its records."),
        }
        self._channel(
            "disclosures",
            spec,
            "The disclosure log (after Logboek Dataverwerkingen), kept for years and fed to the "
            "audit store: ids, paths, legal bases and pseudonyms only. Each record is linked "
            "into its inbound partition's hash chain; signed checkpoints follow.",
            {
                "disclosure": _ref("components", "messages", "disclosure"),
                "delivery-attempt": _ref("components", "messages", "delivery-attempt"),
                "chain-checkpoint": _ref("components", "messages", "chain-checkpoint"),
            },
            ("send", "receive"),
        )

    def _status(self, spec: TopicSpec) -> None:
        self._messages["status"] = {
            "name": "status-record",
            "title": "Status record",
            "summary": "What became of an event, for its sender (GET /events/{id}).",
            "contentType": _JSON,
            "payload": self._schema("StatusRecord", STATUS_RECORD_SCHEMA),
            "bindings": _key("`<source> <event id>`: the latest record per event is kept."),
        }
        self._channel(
            "status",
            spec,
            "Compacted: per (source, id), delivered (to whom, withheld from whom) or "
            "dead-lettered (with codes). Ids, partner ids and codes only.",
            {"status": _ref("components", "messages", "status")},
            ("send", "receive"),
        )

    def _internal(self, channel_id: str, description: str, key: str) -> Callable[[TopicSpec], None]:
        def describe(spec: TopicSpec) -> None:
            name = f"{channel_id}.record"
            self._messages[name] = {
                "name": name,
                "title": f"{channel_id} record",
                "summary": "The hub's own record; not for partners, its format may change "
                "between versions.",
                "contentType": _JSON,
                "payload": {"type": ["object", "null"]},
                "bindings": _key(key),
            }
            self._channel(
                channel_id,
                spec,
                description,
                {"record": _ref("components", "messages", name)},
                ("send", "receive"),
            )

        return describe


def _rewrite(node: Any, names: Mapping[str, str]) -> Any:
    """A schema with every ``#/$defs/X`` pointing at ``#/components/schemas/<names[X]>``."""
    if isinstance(node, Mapping):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith("#/$defs/"):
                target = value.removeprefix("#/$defs/")
                out[key] = _ref("components", "schemas", names.get(target, target))["$ref"]
            else:
                out[key] = _rewrite(value, names)
        return out
    if isinstance(node, list):
        return [_rewrite(item, names) for item in node]
    return node
