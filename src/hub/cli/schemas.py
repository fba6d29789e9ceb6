"""``hub schemas export|check|docs``: publish the contract's JSON Schemas and its field reference.

::

    hub schemas export docs/schemas     write one schema per type, and the envelope's
    hub schemas check docs/schemas      exit 0 when the files equal the export, else 1
    hub schemas docs docs/messages.md   write the field-by-field reference of every type

``check`` names every differing file and says whether the change is BACKWARD compatible
with the published file (see ``hub.schemas.compatibility``)::

    CHANGED docs/schemas/v1/cases.closed.json: INCOMPATIBLE with the published v1 schema
      INCOMPATIBLE data.reason: code list narrowed: "moved" no longer allowed
    FAILED: 1 published schema changed incompatibly. ...

A compatible change fails too, with "compatible: re-export and commit", so every change
of the contract shows up in review. Exit 2 when the directory does not exist, or when a
connector (where the types come from) or the routing/privacy table cannot be read.
"""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["EXIT_DIFFERENT", "EXIT_OK", "EXIT_UNUSABLE", "configure", "run"]

EXIT_OK = 0
EXIT_DIFFERENT = 1
EXIT_UNUSABLE = 2


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the sub-commands export, check and docs, each with its path."""
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    export = actions.add_parser(
        "export", help="write the JSON Schemas (one per type, and the envelope) under DIR"
    )
    export.add_argument("directory", type=Path, metavar="DIR")
    check = actions.add_parser(
        "check", help="compare DIR with the export; say whether each change is compatible"
    )
    check.add_argument("directory", type=Path, metavar="DIR")
    docs = actions.add_parser("docs", help="write the field reference of every type (Markdown)")
    docs.add_argument("path", type=Path, metavar="PATH")


def run(args: argparse.Namespace) -> int:
    """Run the chosen action; return its exit status (2 when a connector cannot be read)."""
    from hub.errors import ConfigurationError

    try:
        if args.action == "export":
            return _export(args.directory)
        if args.action == "check":
            return _check(args.directory)
        return _docs(args.path)
    except ConfigurationError as exc:  # the types come from the connectors
        print(f"ERROR {exc}")
        return EXIT_UNUSABLE


def _export(directory: Path) -> int:
    from hub.privacy.views import published_files
    from hub.schemas.export import write_schemas

    files = published_files()
    written, removed = write_schemas(directory, files)
    for relative in written:
        print(f"wrote {directory / relative}")
    for relative in removed:
        print(f"removed {directory / relative}")
    print(f"{len(files)} schema files in {directory} match the code")
    return EXIT_OK


def _check(directory: Path) -> int:
    from hub.privacy.views import published_files
    from hub.schemas.export import check_directory

    if not directory.is_dir():
        print(f"ERROR {directory} is not a directory; run: hub schemas export {directory}")
        return EXIT_UNUSABLE
    differences = check_directory(directory, published_files())
    if not differences:
        print(f"OK {directory} matches the code")
        return EXIT_OK

    incompatible = 0
    for difference in differences:
        path = directory / difference.path
        version = difference.path.parent.name
        if difference.status == "missing":
            print(f"MISSING {path}: a new schema; compatible: re-export and commit")
        elif difference.status == "extra":
            print(
                f"EXTRA {path}: the code no longer exports it; INCOMPATIBLE: "
                f"removing a published {version} schema breaks its senders"
            )
        elif difference.status == "unreadable":
            print(f"UNREADABLE {path}: not JSON, so not comparable; INCOMPATIBLE until re-exported")
        elif difference.is_compatible:
            print(f"CHANGED {path}: compatible: re-export and commit")
        else:
            print(f"CHANGED {path}: INCOMPATIBLE with the published {version} schema")
        if difference.status == "changed" and not difference.changes:
            print("  compatible   same schema, other bytes (formatting)")
        for change in difference.changes:
            label = "compatible  " if change.compatible else "INCOMPATIBLE"
            print(f"  {label} {change.path or '(root)'}: {change.message}")
        incompatible += not difference.is_compatible

    if incompatible:
        print(
            f"FAILED: {incompatible} published schema file(s) changed incompatibly. A published "
            "version only changes BACKWARD compatibly: undo the change, or publish it as a new "
            "type version (.v2)."
        )
    else:
        print(
            f"FAILED: the schemas differ from the code, compatibly: run "
            f"`hub schemas export {directory}` and commit the result."
        )
    return EXIT_DIFFERENT


def _docs(path: Path) -> int:
    from hub.schemas.reference import render_reference

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_reference(), encoding="utf-8")
    print(f"wrote {path}")
    return EXIT_OK
