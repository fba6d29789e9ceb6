"""The hub's Kafka topics: their names, and their creation with the right retention.

::

    <prefix>.inbound.<partner>     one per partner: what it sends (HTTP gateway or its own producer)
    <prefix>.deliveries.<partner>  one per partner: what it may receive (binary-mode CloudEvents)
    <prefix>.deadletter            invalid or unroutable events, with a reason of codes and paths
    <prefix>.state                 compacted changelog of the routing state (no names, no free text)
    <prefix>.held                  compacted, with personal-data retention: the latest plan per case
    <prefix>.disclosures           the disclosure log (pseudonyms only), kept for years
    <prefix>.status                compacted: per (source, id), what became of an event (for its sender)
    <prefix>.parked.<partner>      webhook deliveries that ran out of retries, for replay
    <prefix>.replay                dead letters an operator replays (`hub dlq replay`), read by the router
    <prefix>.kpi                   compacted: flow KPIs per team and month, open pairs, offsets read (no personal data)
    <prefix>.operations            the operators' log: replays and views of dead letters (ids, no data)
    <prefix>.iwmo                  compacted, deleted after iwmo_retention_ms: the gateway's iWmo records (care per assignment,
                                   used Identificaties, 302 outcomes; pseudonyms, no names)
    <prefix>.iwmo-receipts         compacted, with personal-data retention: the retour each
                                   305/307 got (it echoes the sender's client), for replay

One inbound topic per partner makes the topic the proof of who sent an event (Kafka
ACLs limit a partner's principal to its own topic), so ``source`` can be checked
against it. Within a topic the key is the CloudEvent subject, so order per subject holds.
"""

from __future__ import annotations

from dataclasses import dataclass

from hub.connectors.registry import Partner, PartnerRegistry
from hub.errors import ConfigurationError
from hub.settings import KafkaSettings

__all__ = ["DISCLOSURE_ID_HEADER", "SUBJECT_KIND_HEADER", "TopicLayout", "TopicSpec"]

DISCLOSURE_ID_HEADER = "hub-disclosure-id"
"""Header on each delivery naming its disclosure record (an id, not personal data)."""

SUBJECT_KIND_HEADER = "hub-subject-kind"
"""Header on each delivery naming what its subject identifies (``referrals.referral_id``,
``care.assignment_number``): the family and field. Subjects of different kinds are
different subjects even when their values are equal (two partners' ids may be)."""


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """A topic the hub needs, with the configuration it is created with."""

    name: str
    config: dict[str, str]


@dataclass(frozen=True, slots=True)
class TopicLayout:
    """Topic names for one deployment, derived from the settings and the partner registry."""

    prefix: str

    def inbound(self, partner_id: str) -> str:
        """The topic a partner sends on."""
        return f"{self.prefix}.inbound.{partner_id}"

    @property
    def inbound_prefix(self) -> str:
        """What every partner's inbound topic's name starts with."""
        return f"{self.prefix}.inbound."

    def deliveries(self, partner: Partner) -> str:
        """The topic a partner's deliveries are released to."""
        topic = getattr(partner.delivery, "topic", None)
        return topic or f"{self.prefix}.deliveries.{partner.id}"

    def check_delivery_topics(self, registry: PartnerRegistry) -> None:
        """Refuse a registry whose partners' delivery topics are not each their own.

        A partner reads its delivery topic, on Kafka with its own credentials and through
        GET /deliveries with the gateway's: a topic named in the registry must be no other
        partner's and none of the hub's own (dead letters, state, another partner's
        default), or that partner would read what is not released to it.
        """
        taken: dict[str, str] = {}
        for index, partner in enumerate(registry):
            topic = self.deliveries(partner)
            own_default = f"{self.prefix}.deliveries.{partner.id}"
            where = f"partners[{index}].delivery.topic"
            if topic != own_default and topic.startswith(f"{self.prefix}."):
                raise ConfigurationError(
                    "partner registry",
                    where,
                    f"a delivery topic may not be one of the hub's own ({self.prefix}.*) "
                    "other than the partner's default",
                )
            if topic in taken:
                raise ConfigurationError(
                    "partner registry",
                    where,
                    f"the delivery topic of partner {taken[topic]} too: each partner's is its own",
                )
            taken[topic] = partner.id

    @property
    def deadletter(self) -> str:
        """Invalid and unroutable events."""
        return f"{self.prefix}.deadletter"

    @property
    def state(self) -> str:
        """The routing state's compacted changelog."""
        return f"{self.prefix}.state"

    @property
    def held(self) -> str:
        """Held content (the latest plan per case, for assignments that go live later)."""
        return f"{self.prefix}.held"

    @property
    def disclosures(self) -> str:
        """The disclosure log."""
        return f"{self.prefix}.disclosures"

    @property
    def status(self) -> str:
        """Per (source, id): accepted, dead-lettered (with codes) or duplicate, and to whom delivered."""
        return f"{self.prefix}.status"

    @property
    def iwmo(self) -> str:
        """The gateway's iWmo records (docs/iwmo.md): care per assignment, receipts, 302 outcomes."""
        return f"{self.prefix}.iwmo"

    @property
    def iwmo_receipts(self) -> str:
        """The retours of 305/307 messages, kept for replay with personal data's retention."""
        return f"{self.prefix}.iwmo-receipts"

    @property
    def replay(self) -> str:
        """Dead letters an operator replays; the router reads them as their sender's records."""
        return f"{self.prefix}.replay"

    @property
    def kpi(self) -> str:
        """The flow KPIs' ledger (``hub.kpi``): totals per team and month, open pairs, offsets."""
        return f"{self.prefix}.kpi"

    @property
    def operations(self) -> str:
        """The operators' log (``hub dlq``): who replayed or viewed which dead letter, when."""
        return f"{self.prefix}.operations"

    def parked(self, partner_id: str) -> str:
        """Webhook deliveries to this partner that exhausted their retries, kept for replay."""
        return f"{self.prefix}.parked.{partner_id}"

    def partner_of_inbound(self, topic: str) -> str | None:
        """The partner id an inbound topic belongs to, or None when it is not an inbound topic."""
        head = f"{self.prefix}.inbound."
        return topic[len(head) :] if topic.startswith(head) else None

    def all_topics(self, registry: PartnerRegistry, kafka: KafkaSettings) -> list[TopicSpec]:
        """Every topic the hub needs, with retention: personal data short, the log long."""
        personal = {"retention.ms": str(kafka.personal_retention_ms), "cleanup.policy": "delete"}
        # The broker stamps inbound records on append: receipt, the clock of every retention
        # and duplicate window, not the create time a partner's producer claims.
        inbound = {**personal, "message.timestamp.type": "LogAppendTime"}
        specs = [TopicSpec(self.inbound(p.id), inbound) for p in registry]
        specs += [TopicSpec(self.deliveries(p), personal) for p in registry]
        specs.append(TopicSpec(self.deadletter, personal))
        specs += [TopicSpec(self.parked(p.id), personal) for p in registry]
        # Copies of inbound records: their retention, and the broker's clock as receipt.
        specs.append(TopicSpec(self.replay, inbound))
        # Ids, codes and operators' names: kept as long as the disclosure log.
        specs.append(
            TopicSpec(
                self.operations,
                {"retention.ms": str(kafka.disclosure_retention_ms), "cleanup.policy": "delete"},
            )
        )
        # Status records hold ids, partner ids and codes only; compacted, one per event.
        specs.append(TopicSpec(self.status, {"cleanup.policy": "compact"}))
        # Totals, team names, ids and times, never personal data; compacted like the state.
        specs.append(TopicSpec(self.kpi, {"cleanup.policy": "compact"}))
        # The state outlives topic retention (privacy.md, "Retention"): compacted, never deleted by age.
        specs.append(TopicSpec(self.state, {"cleanup.policy": "compact"}))
        # Held plans contain goal texts: compacted, but also deleted with personal data's retention.
        specs.append(
            TopicSpec(
                self.held,
                {
                    "cleanup.policy": "compact,delete",
                    "retention.ms": str(kafka.personal_retention_ms),
                },
            )
        )
        # iWmo records hold numbers, codes and pseudonyms: compacted, and deleted a set time
        # (default two years) after they were last written, as routing state expires.
        specs.append(
            TopicSpec(
                self.iwmo,
                {"cleanup.policy": "compact,delete", "retention.ms": str(kafka.iwmo_retention_ms)},
            )
        )
        # A retour echoes the sender's client: compacted, deleted with personal data's retention.
        specs.append(
            TopicSpec(
                self.iwmo_receipts,
                {
                    "cleanup.policy": "compact,delete",
                    "retention.ms": str(kafka.personal_retention_ms),
                },
            )
        )
        specs.append(
            TopicSpec(
                self.disclosures,
                {"retention.ms": str(kafka.disclosure_retention_ms), "cleanup.policy": "delete"},
            )
        )
        return specs
