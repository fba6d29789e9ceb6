"""The operators' view of a running hub: dead letters, their replay and log, health and flows.

Read by the `hub status`, `hub dlq`, `hub flows` and `hub partners` commands; everything
comes from Kafka through the seam's ``hub.kafka.inspection``.
"""

from hub.operations.deadletters import (
    ListedDeadLetter,
    deadletter_id,
    find_dead_letter,
    parse_deadletter_id,
    read_dead_letters,
    select,
)
from hub.operations.log import Action, OperationRecord, operator_name, read_operations, replayed
from hub.operations.replay import ReplayItem, plan_replays, replay

__all__ = [
    "Action",
    "ListedDeadLetter",
    "OperationRecord",
    "ReplayItem",
    "deadletter_id",
    "find_dead_letter",
    "operator_name",
    "parse_deadletter_id",
    "plan_replays",
    "read_dead_letters",
    "read_operations",
    "replay",
    "replayed",
    "select",
]
