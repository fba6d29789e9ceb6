"""The `hub` command: one entry point, one module per sub-command.

Each sub-command lives in its own module exposing ``configure(parser)`` and
``run(args) -> int``. Command modules keep heavy imports (Kafka, HTTP) inside
``run`` so that building the parser stays cheap for every command.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

__all__ = ["main"]

# name -> (module, one-line help)
_COMMANDS: dict[str, tuple[str, str]] = {
    "validate": ("hub.cli.validate", "validate CloudEvent files against the v1 contract"),
    "run": ("hub.cli.run", "run the hub until SIGINT/SIGTERM"),
    "gateway": ("hub.cli.gateway", "serve the inbound HTTP API until SIGINT/SIGTERM"),
    "replay": ("hub.cli.replay", "send a webhook partner's parked deliveries again, in order"),
    "status": ("hub.cli.status", "the running hub at a glance: broker, lag, dead letters, parked"),
    "dlq": ("hub.cli.dlq", "list, show and replay dead letters"),
    "flows": ("hub.cli.flows", "events in and deliveries out per partner and type, over a window"),
    "kpi": (
        "hub.cli.kpi",
        "flow KPIs per team for a month: waiting, throughput, time to start, ...",
    ),
    "partners": ("hub.cli.partners", "the partner registry and each partner's delivery health"),
    "demo": ("hub.cli.demo", "run the hub with the demo registry and the example scenario"),
    "preview": ("hub.cli.preview", "show what each recipient would get of CloudEvent files"),
    "audit": ("hub.cli.audit", "query the disclosure log (a resident's right of access)"),
    "policy": ("hub.cli.policy", "test the routing/privacy table with a privacy officer's cases"),
    "schemas": ("hub.cli.schemas", "export, check and document the contract's JSON Schemas"),
    "connector": ("hub.cli.connector", "scaffold a connector for a new partner role (new)"),
    "asyncapi": (
        "hub.cli.asyncapi",
        "write the AsyncAPI 3.0 document of every Kafka topic and its messages",
    ),
    "iwmo": (
        "hub.cli.iwmo",
        "translate iWmo 3.2 documents in memory (inbound 302/305/307, outbound 301)",
    ),
}


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hub", description="Sociaal-domein integration hub.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module_name, help_text) in _COMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(_module=module_name)
        importlib.import_module(module_name).configure(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run the chosen sub-command; returns the exit code."""
    args = _build_parser().parse_args(argv)
    code: int = importlib.import_module(args._module).run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
