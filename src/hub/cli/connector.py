"""``hub connector new NAME --role ROLE``: scaffold a connector that passes the contract kit.

Writes a connector for a new partner role, with two message types to start from: the
wijkteam's request to the partner (``NAME.requested``, swt -> ROLE) and the partner's
status back (``NAME.status-changed``, ROLE -> swt), each with a valid example, the
routing/privacy rows that send them, and tests that call the contract test kit
(``hub.testing.connector_kit``) and run both types through the pipeline in memory.
Everything passes as written; then change the models, examples and rows to the
partner's real messages (docs/connectors.md walks through it).

Where it goes:

- by default into the hub's source tree: ``src/hub/roles/<name>/`` (``__init__.py``,
  ``rows.yaml``, ``examples/``) and ``tests/unit/roles/test_<name>.py``;
- with ``--dir DIR``, as a distribution of its own: ``DIR/<NAME>/`` with a
  ``pyproject.toml`` declaring the ``hub.connectors`` entry point, ``src/hub_<name>/``
  and ``tests/`` (whose ``conftest.py`` makes the connector discoverable, as installing
  it beside the hub would).

Exit status: 0 written; 2 a bad name, a role or type a connector already declares, a role
named like a selector, or a target that exists (nothing is overwritten).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from string import Template
from typing import Final

__all__ = ["EXIT_OK", "EXIT_REFUSED", "configure", "files_for", "run"]

EXIT_OK = 0
EXIT_REFUSED = 2

_SLUG: Final = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")
_HUB_SRC: Final = Path(__file__).resolve().parents[2]  # src/
_REPO: Final = _HUB_SRC.parent
_SWT_SOURCE: Final = "urn:nld:oin:00000001234567890000:systeem:wijkteam"


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``new`` sub-command and its arguments."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    new = actions.add_parser(
        "new",
        help="scaffold a connector for a new partner role",
        description=__doc__.split("\n\nExit status")[0] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    new.add_argument(
        "name",
        metavar="NAME",
        help="the connector's name, a lowercase slug (leerplicht): its module, and its "
        "types' family (nl.sociaaldomein.NAME.requested.v1)",
    )
    new.add_argument(
        "--role",
        required=True,
        metavar="ROLE",
        help="the partner role it declares, a lowercase slug (leerplicht-office): what a "
        "partner's role: says in the partner registry",
    )
    new.add_argument(
        "--dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="write a distribution of its own under DIR/NAME/ (default: into the hub's "
        "src/hub/roles/ and tests/unit/roles/)",
    )


def run(args: argparse.Namespace) -> int:
    """Write the scaffold; 0 when written, 2 when refused (nothing written then)."""
    refusal = _refusal(args.name, args.role)
    if refusal is None:
        files = files_for(args.name, args.role, args.dir)
        existing = sorted(path for path in files if path.exists())
        if existing:
            refusal = f"{existing[0]} exists; nothing was written"
    if refusal is not None:
        print(f"hub connector new: {refusal}", file=sys.stderr)
        return EXIT_REFUSED
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")
    return EXIT_OK


def _refusal(name: str, role: str) -> str | None:
    """Why this name and role cannot be scaffolded, or None."""
    for what, value in (("NAME", name), ("ROLE", role)):
        if not _SLUG.fullmatch(value):
            return f"{what} must be a lowercase slug like leerplicht-office, not {value!r}"
    from hub.connectors.discovery import catalogue
    from hub.connectors.protocol import SAFETY

    found = catalogue()
    if SAFETY.covers(name):
        # Its types would be safety-* ones without the safety class: every start refused.
        return (
            f"NAME {name} would name {SAFETY.name}-class types ({SAFETY.segment_prefix}*), "
            "which the scaffold does not write; choose another NAME"
        )
    if role in found.roles:
        return f"role {role} is declared by {found.origins[role]} already"
    if role in found.selectors:
        # A row's recipient names a role or a selector, never both: the catalogue refuses it.
        return f"ROLE {role} is the name of a selector (a row's recipient); choose another ROLE"
    for short in (f"{name}.requested", f"{name}.status-changed"):
        if any(spec.short_name == short for spec in found.types.values()):
            return f"type {short} is declared already; choose another NAME"
    return None


def files_for(name: str, role: str, directory: Path | None) -> dict[Path, str]:
    """Every file of the scaffold and its text, by path (``directory``: a distribution)."""
    package = name.replace("-", "_")
    values = {
        "name": name,
        "role": role,
        "klass": "".join(part.capitalize() for part in re.split(r"[-_]", name)),
        "swt_source": _SWT_SOURCE,
        "source": f"urn:nld:oin:00000001234567890000:systeem:{name}",
    }
    if directory is None:
        code = _HUB_SRC / "hub" / "roles" / package
        tests = {_REPO / "tests" / "unit" / "roles" / f"test_{package}.py": "hub.roles." + package}
        extra: dict[Path, str] = {}
        marker = _REPO / "tests" / "unit" / "roles" / "__init__.py"
        if not marker.exists():
            extra[marker] = ""
    else:
        root = directory / name
        code = root / "src" / f"hub_{package}"
        tests = {root / "tests" / f"test_{package}.py": f"hub_{package}"}
        extra = {
            root / "pyproject.toml": _PYPROJECT.substitute(values, package=f"hub_{package}"),
            root / "tests" / "conftest.py": _CONFTEST,
        }
    files = {
        code / "__init__.py": _MODULE.substitute(values),
        code / "rows.yaml": _ROWS.substitute(values),
        code / "examples" / f"{name}.requested" / "valid" / "request.json": _REQUESTED.substitute(
            values
        ),
        code / "examples" / f"{name}.status-changed" / "valid" / "accepted.json": (
            _STATUS.substitute(values)
        ),
        **extra,
    }
    for path, module in tests.items():
        files[path] = _TESTS.substitute(values, imports=_imports(module))
    return files


def _imports(module: str) -> str:
    """The test's imports, sorted as isort would: the connector's own package is first-party."""
    hub = [
        "from hub.testing import InMemoryPipeline, load_example",
        "from hub.testing.connector_kit import check_connector, kit_registry",
    ]
    own = f"from {module} import CONNECTOR"
    if module.startswith("hub."):
        return "\n".join(sorted([*hub, own]))
    return "\n".join([*hub, "", own])


_MODULE: Final = Template('''\
"""The $role connector (scaffolded by `hub connector new`; see docs/connectors.md).

The wijkteam asks a $role partner to take on a client (``$name.requested``), and the
partner reports where the request stands (``$name.status-changed``), to the wijkteam only.
Change the models, the examples and the rows to the partner's real messages; keep the
tests passing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from hub.connectors.protocol import Connector, RoleSpec, TypeSpec
from hub.schemas.common import ClientWithPhone, ContractModel, Identifier, IsoDate, TextLimit

HERE = Path(__file__).resolve().parent


class ${klass}Requested(ContractModel):
    """``$name.requested``: the wijkteam asks the $role partner to take on a client."""

    request_id: Identifier
    requested_on: IsoDate
    client: ClientWithPhone
    reason: Annotated[str, TextLimit(1000)]


class ${klass}StatusChanged(ContractModel):
    """``$name.status-changed``: where a request stands, for the wijkteam."""

    request_id: Identifier
    status: Literal["accepted", "in-progress", "closed", "declined"]
    status_on: IsoDate


ROLE = RoleSpec(
    name="$role",
    description="The $role partner (one per deployment, optional).",
    singleton=True,
)

CONNECTOR = Connector(
    role=ROLE,
    sends=(
        TypeSpec(
            type="nl.sociaaldomein.$name.status-changed.v1",
            model=${klass}StatusChanged,
            subject_field="request_id",
            sender_role=ROLE.name,
            family="$name",
            short_name="$name.status-changed",
        ),
    ),
    receives=(
        TypeSpec(
            type="nl.sociaaldomein.$name.requested.v1",
            model=${klass}Requested,
            subject_field="request_id",
            sender_role="swt",
            family="$name",
            short_name="$name.requested",
        ),
    ),
    rows=HERE / "rows.yaml",
    examples=HERE / "examples",
)
''')

_ROWS: Final = Template("""\
# The $role connector's routing/privacy rows (docs/privacy.md): deny by default, so each
# row lists the fields its recipient may see. A row with `when: data.<path>` delivers only
# when that boolean field of the event's data is true (a recorded consent, say).
version: 1
processing_activities: [$name]
legal_bases:
  # Name the law and article that allow these disclosures; the main table may override it.
  $name-basis: "The law and article that allow this disclosure"
routes:
  - type: $name.requested
    recipient: $role
    fields: [request_id, requested_on, client, reason]
    legal_basis: $name-basis
    processing_activity: $name
  - type: $name.status-changed
    recipient: swt
    fields: [request_id, status, status_on]
    legal_basis: $name-basis
    processing_activity: $name
""")

_REQUESTED: Final = Template("""\
{
  "specversion": "1.0",
  "id": "3f1c2a4e-0b6d-4c7e-9a58-1d2e3f4a5b6c",
  "source": "$swt_source",
  "type": "nl.sociaaldomein.$name.requested.v1",
  "time": "2025-03-18T10:15:00+01:00",
  "subject": "ZWZ-REQ-2025-0001",
  "datacontenttype": "application/json",
  "data": {
    "request_id": "ZWZ-REQ-2025-0001",
    "requested_on": "2025-03-18",
    "client": {
      "bsn": "999900018",
      "given_name": "Esther",
      "family_name": "Dalfsen",
      "birth_date": "1986-02-11",
      "address": {
        "street": "Klaproosstraat",
        "house_number": 14,
        "postcode": "8021PK",
        "city": "Zwolle"
      }
    },
    "reason": "Why the wijkteam asks for this partner's help, in at most 1,000 characters."
  }
}
""")

_STATUS: Final = Template("""\
{
  "specversion": "1.0",
  "id": "7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d",
  "source": "$source",
  "type": "nl.sociaaldomein.$name.status-changed.v1",
  "time": "2025-03-20T09:00:00+01:00",
  "subject": "ZWZ-REQ-2025-0001",
  "datacontenttype": "application/json",
  "data": {
    "request_id": "ZWZ-REQ-2025-0001",
    "status": "accepted",
    "status_on": "2025-03-20"
  }
}
""")

_TESTS: Final = Template('''\
"""The $role connector keeps the contract: the kit, and its types through the pipeline in memory."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

$imports

EXAMPLES = Path(str(CONNECTOR.examples))


def test_the_connector_passes_the_kit() -> None:
    """Examples, views, adapters, delivery and the protection classes: the kit finds nothing."""
    check_connector(CONNECTOR)


def _delivered(hub: InMemoryPipeline, event: dict[str, Any]) -> dict[str, list[Any]]:
    """The data each partner is delivered of one event, by partner id."""
    out = hub.feed(event)
    topics = {hub.layout.deliveries(partner): partner.id for partner in hub.registry}
    delivered: dict[str, list[Any]] = {}
    for record in out:
        if record.topic in topics:
            delivered.setdefault(topics[record.topic], []).append(json.loads(record.value or b""))
    return delivered


def _example(name: str) -> dict[str, Any]:
    event = load_example(EXAMPLES / name)
    event["id"] = str(uuid.uuid4())
    return event


def test_a_request_reaches_the_partner_and_its_status_the_wijkteam_only() -> None:
    """The request goes to the $role partner alone; its status to the wijkteam alone."""
    hub = InMemoryPipeline(registry=kit_registry(CONNECTOR))
    partner = hub.registry.with_role("$role")[0].id
    swt = hub.registry.with_role("swt")[0].id

    request = _example("$name.requested/valid/request.json")
    assert _delivered(hub, request) == {partner: [request["data"]]}

    status = _example("$name.status-changed/valid/accepted.json")
    assert _delivered(hub, status) == {swt: [status["data"]]}
''')

_PYPROJECT: Final = Template("""\
[project]
name = "hub-$name"
version = "0.1.0"
description = "The $role connector of the social-domain integration hub."
requires-python = ">=3.11"

[project.entry-points."hub.connectors"]
$role = "$package"

[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[tool.hatch.build.targets.wheel]
packages = ["src/$package"]
""")

_CONFTEST: Final = '''\
"""Make this connector discoverable in the test session, as installing it beside the hub would.

The hub finds connectors only through discovery (a module of ``hub.roles`` or a
``hub.connectors`` entry point). Before anything imports the hub, this puts ``src/`` on
``sys.path`` with a ``.dist-info`` declaring the entry point of ``pyproject.toml``.
"""

from __future__ import annotations

import atexit
import shutil
import sys
import tempfile
import tomllib
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[1]


def _install() -> None:
    project = tomllib.loads((_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    entry_points = project["entry-points"]["hub.connectors"]
    site = Path(tempfile.mkdtemp(prefix="hub-connector-"))
    atexit.register(shutil.rmtree, site, ignore_errors=True)
    info = site / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\\nName: {project['name']}\\nVersion: {project['version']}\\n",
        encoding="utf-8",
    )
    lines = "".join(f"{name} = {target}\\n" for name, target in entry_points.items())
    (info / "entry_points.txt").write_text(f"[hub.connectors]\\n{lines}", encoding="utf-8")
    sys.path[:0] = [str(_ROOT / "src"), str(site)]


_install()
'''
