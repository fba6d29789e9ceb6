"""A partner's CloudEvents SDK (the CNCF ``cloudevents`` package), in both its APIs.

``API`` names them: ``new`` is ``cloudevents.core`` (2.x: ``bindings.http`` and
``bindings.kafka``), ``old`` is ``cloudevents.v1`` (the 1.x API the package still ships).
Each helper takes an event as the hub's tests hold it (a structured-mode dict) and sends
or reads it exactly as that API does, so a test proves what a partner's SDK sees.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from cloudevents.core.bindings import http as new_http
from cloudevents.core.bindings import kafka as new_kafka
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent as NewCloudEvent
from cloudevents.v1 import conversion as old_conversion
from cloudevents.v1 import kafka as old_kafka
from cloudevents.v1.http import CloudEvent as OldCloudEvent
from cloudevents.v1.http import from_http as old_from_http

API = Literal["new", "old"]
APIS: tuple[API, ...] = ("new", "old")

KafkaRecord = tuple[bytes | None, list[tuple[str, bytes]], bytes]
"""(key, headers, value) as a producer sends them."""


def _new(event: Mapping[str, Any]) -> NewCloudEvent:
    attributes = {name: value for name, value in event.items() if name != "data"}
    attributes["time"] = datetime.fromisoformat(attributes["time"])  # the new API wants one
    return NewCloudEvent(attributes=attributes, data=dict(event["data"]))


def _old(event: Mapping[str, Any]) -> OldCloudEvent:
    attributes = {name: value for name, value in event.items() if name != "data"}
    return OldCloudEvent(attributes, dict(event["data"]))


def _key(key: str | bytes | None) -> bytes | None:
    return key.encode() if isinstance(key, str) else key


# ---------------------------------------------------------------------------- HTTP


def http_binary(event: Mapping[str, Any], api: API) -> tuple[dict[str, str], bytes]:
    """(headers, body) of the SDK's HTTP binary mode: ``ce-*`` headers, data as JSON."""
    if api == "new":
        message = new_http.to_binary(_new(event), JSONFormat())
        return dict(message.headers), message.body
    headers, body = old_conversion.to_binary(_old(event))
    return dict(headers), body if isinstance(body, bytes) else str(body).encode()


def http_structured(event: Mapping[str, Any], api: API) -> tuple[dict[str, str], bytes]:
    """(headers, body) of the SDK's HTTP structured mode."""
    if api == "new":
        message = new_http.to_structured(_new(event), JSONFormat())
        return dict(message.headers), message.body
    headers, body = old_conversion.to_structured(_old(event))
    return dict(headers), body if isinstance(body, bytes) else str(body).encode()


def http_batch(events: Sequence[Mapping[str, Any]], api: API) -> tuple[dict[str, str], bytes]:
    """(headers, body) of a batch: the SDK writes each event, the array is the binding's."""
    # Neither API writes a batch; each event is the SDK's own structured JSON.
    bodies = [http_structured(event, api)[1] for event in events]
    return {"content-type": "application/cloudevents-batch+json"}, b"[" + b",".join(bodies) + b"]"


def read_http(headers: Mapping[str, str], body: bytes, api: API) -> dict[str, Any]:
    """A webhook delivery as the SDK reads it (either mode), as attributes plus ``data``."""
    if api == "new":
        event = new_http.from_http(new_http.HTTPMessage(dict(headers), body), JSONFormat())
        return _attributes(event.get_attributes(), event.get_data())
    old = old_from_http(dict(headers), body)
    return _attributes(old.get_attributes(), old.get_data())


# ---------------------------------------------------------------------------- Kafka


def kafka_binary(event: Mapping[str, Any], api: API) -> KafkaRecord:
    """The SDK's Kafka binary mode; the key is ``partitionkey`` when the event has one."""
    if api == "new":
        message = new_kafka.to_binary(_new(event), JSONFormat())
        return _key(message.key), list(message.headers.items()), message.value
    old = old_kafka.to_binary(_old(event))
    return _key(old.key), list(old.headers.items()), old.value


def kafka_structured(event: Mapping[str, Any], api: API) -> KafkaRecord:
    """The SDK's Kafka structured mode (the old API's content-type is the datacontenttype)."""
    if api == "new":
        message = new_kafka.to_structured(_new(event), JSONFormat())
        return _key(message.key), list(message.headers.items()), message.value
    old = old_kafka.to_structured(_old(event))
    return _key(old.key), list(old.headers.items()), old.value


def read_kafka(
    key: bytes | None, headers: Sequence[tuple[str, bytes]], value: bytes, api: API
) -> dict[str, Any]:
    """A Kafka delivery as the SDK reads it (mode detected), as attributes plus ``data``."""
    if api == "new":
        message = new_kafka.KafkaMessage(headers=dict(headers), key=key, value=value)
        event = new_kafka.from_kafka(message, JSONFormat())
        return _attributes(event.get_attributes(), event.get_data())
    old_message = old_kafka.KafkaMessage(dict(headers), key, value)
    old = old_kafka.from_binary(old_message)
    return _attributes(old.get_attributes(), old.get_data())


def _attributes(attributes: Mapping[str, Any], data: Any) -> dict[str, Any]:
    """Attributes as strings (``time`` in RFC 3339, as on the wire) plus ``data`` as JSON."""
    result: dict[str, Any] = {}
    for name, value in attributes.items():
        if isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, bytes):
            value = value.decode()
        result[name] = value
    result["data"] = json.loads(data) if isinstance(data, bytes | str) else data
    return result
