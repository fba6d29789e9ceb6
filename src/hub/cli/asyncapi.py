"""``hub asyncapi``: write the AsyncAPI 3.0 document of the deployment's Kafka topics.

::

    hub asyncapi                                  the document, as JSON, on stdout
    hub asyncapi --partners partners.yaml --output asyncapi.json

Every topic the hub creates for the partner registry (``--partners``, else
``HUB_PARTNERS_FILE``, else the demo registry) and the routing/privacy table
(``--privacy``), with what is written on it: each partner's inbound CloudEvents, the
view of each type its deliveries carry, dead letters, disclosure and status records.
Topic names follow ``HUB_KAFKA__TOPIC_PREFIX``. Exit 0, or 2 when the registry or table
cannot be read or the file cannot be written.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hub.cli.preview import add_deployment_options

__all__ = ["configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Add ``--partners``, ``--privacy`` and ``--output``."""
    add_deployment_options(parser)
    parser.add_argument(
        "--output",
        "-o",
        type=Path,
        default=None,
        metavar="FILE",
        help="write the document to FILE (default: stdout)",
    )


def run(args: argparse.Namespace) -> int:
    """Write the document; 0 on success, 2 when the configuration or the output is unusable."""
    from hub.asyncapi import asyncapi_document, render_document
    from hub.cli.preview import load_deployment
    from hub.errors import ConfigurationError

    try:
        settings, ctx = load_deployment(args)
        document = render_document(asyncapi_document(settings, ctx.registry))
    except ConfigurationError as exc:
        print(f"hub asyncapi: {exc}", file=sys.stderr)
        return 2
    if args.output is None:
        sys.stdout.buffer.write(document)
        sys.stdout.flush()
        return 0
    try:
        args.output.write_bytes(document)
    except OSError as exc:
        print(f"hub asyncapi: cannot write {args.output} ({exc.strerror})", file=sys.stderr)
        return 2
    return 0
