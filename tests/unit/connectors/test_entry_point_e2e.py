"""A connector from another distribution, end to end in memory: no line of the hub changes.

The connector is a package on ``sys.path`` with a ``hub.connectors`` entry point in its
``.dist-info``, as ``pip install`` would leave it; a fresh interpreter runs the pipeline,
so discovery finds it exactly as ``hub run`` would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from hub.connectors import load_registry
from hub.errors import ConfigurationError

CONNECTOR = """
from pathlib import Path

from hub.connectors import Connector, RoleSpec, TypeSpec
from hub.schemas import ContractModel


class DebtAssistanceRequested(ContractModel):
    request_id: str
    household_size: int
    reason: str
    case_notes: str | None = None


class DebtAssistanceStatusChanged(ContractModel):
    request_id: str
    status: str


ROLE = RoleSpec(name="debt-assistance", description="Schuldhulpverlening.", singleton=True)

CONNECTOR = Connector(
    role=ROLE,
    sends=(
        TypeSpec(
            type="nl.sociaaldomein.debt-assistance.status-changed.v1",
            model=DebtAssistanceStatusChanged,
            subject_field="request_id",
            sender_role="debt-assistance",
            family="debt-assistance",
            short_name="debt-assistance.status-changed",
        ),
    ),
    receives=(
        TypeSpec(
            type="nl.sociaaldomein.debt-assistance.requested.v1",
            model=DebtAssistanceRequested,
            subject_field="request_id",
            sender_role="swt",
            family="debt-assistance",
            short_name="debt-assistance.requested",
        ),
    ),
    rows=Path(__file__).with_name("rows.yaml"),
)
"""

ROWS = {
    "version": 1,
    "processing_activities": ["debt-assistance"],
    "legal_bases": {"wgs": "Wet gemeentelijke schuldhulpverlening art. 8a"},
    "routes": [
        {
            "type": "debt-assistance.requested",
            "recipient": "debt-assistance",
            "fields": ["request_id", "household_size", "reason"],
            "legal_basis": "wgs",
            "processing_activity": "debt-assistance",
        },
        {
            "type": "debt-assistance.status-changed",
            "recipient": "swt",
            "fields": "all",
            "legal_basis": "wgs",
            "processing_activity": "debt-assistance",
        },
    ],
}

SCRIPT = """
import json, sys
from hub.settings import HubSettings
from hub.testing import InMemoryPipeline

hub = InMemoryPipeline(HubSettings(partners_file=sys.argv[1]))
for event in json.loads(sys.argv[2]):
    for record in hub.feed(event):
        if ".deliveries." in record.topic:  # binary mode: the value is the data
            delivery = {"to": record.topic.rsplit(".", 1)[-1], "data": json.loads(record.value)}
            print("DELIVERY", json.dumps(delivery))
"""


def _event(type_: str, source: str, data: dict[str, Any], number: int) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": f"00000000-0000-4000-8000-00000000000{number}",
        "source": source,
        "type": f"nl.sociaaldomein.{type_}.v1",
        "time": "2026-03-02T09:00:00+01:00",
        "subject": data["request_id"],
        "datacontenttype": "application/json",
        "data": data,
    }


def install(site: Path, source: str) -> dict[str, str]:
    """Install package ``acme_debt`` (its module ``source``, its rows) with a hub.connectors entry point.

    Returns the environment of an interpreter that sees it, as pip would leave it.
    """
    package = site / "acme_debt"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(textwrap.dedent(source), encoding="utf-8")
    (package / "rows.yaml").write_text(yaml.safe_dump(ROWS), encoding="utf-8")
    dist_info = site / "acme_debt-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: acme-debt\nVersion: 1.0\n", encoding="utf-8"
    )
    (dist_info / "entry_points.txt").write_text(
        "[hub.connectors]\ndebt-assistance = acme_debt\n", encoding="utf-8"
    )
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), *sys.path])}


DEBT_SOURCE = "urn:nld:oin:00000001234567890000:systeem:schuldhulp"


def registry_with_debt_partner(tmp_path: Path, **entry: Any) -> tuple[Path, str]:
    """The demo registry plus the debt-assistance partner (with ``entry``); and the team's source."""
    partners = [p.model_dump(mode="json", exclude_none=True) for p in load_registry()]
    partners.append(
        {"id": "schuldhulp-zwolle", "role": "debt-assistance", "source": DEBT_SOURCE, **entry}
    )
    partners_file = tmp_path / "partners.yaml"
    partners_file.write_text(yaml.safe_dump({"partners": partners}), encoding="utf-8")
    return partners_file, next(p["source"] for p in partners if p["role"] == "swt")


def delivered(
    script: str, partners_file: Path, events: list[dict[str, Any]], env: dict[str, str]
) -> list[Any]:
    """What ``script`` prints after DELIVERY for these events, run where the connector is installed."""
    done = subprocess.run(
        [sys.executable, "-c", script, str(partners_file), json.dumps(events)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [
        json.loads(line.removeprefix("DELIVERY "))
        for line in done.stdout.splitlines()
        if line.startswith("DELIVERY ")
    ]


def test_a_connector_installed_beside_the_hub_routes_its_types(tmp_path: Path) -> None:
    """A new role's request reaches its partner with only its row's fields, and its status the team."""
    env = install(tmp_path / "site", CONNECTOR)
    partners_file, swt = registry_with_debt_partner(tmp_path)
    events = [
        _event(
            "debt-assistance.requested",
            swt,
            {
                "request_id": "SHV-1",
                "household_size": 3,
                "reason": "Huurachterstand",
                "case_notes": "x",
            },
            1,
        ),
        _event(
            "debt-assistance.status-changed",
            DEBT_SOURCE,
            {"request_id": "SHV-1", "status": "in-progress"},
            2,
        ),
    ]
    deliveries = delivered(SCRIPT, partners_file, events, env)
    assert [(d["to"], d["data"]) for d in deliveries] == [
        (
            "schuldhulp-zwolle",
            {"request_id": "SHV-1", "household_size": 3, "reason": "Huurachterstand"},
        ),
        ("swt-zwolle", {"request_id": "SHV-1", "status": "in-progress"}),
    ]


def test_a_connector_that_breaks_the_safety_class_stops_the_hub(tmp_path: Path) -> None:
    """An installed connector sending a safety-* type unprotected: `hub run` exits 78, naming it."""
    unprotected = CONNECTOR.replace(
        'type="nl.sociaaldomein.debt-assistance.status-changed.v1"',
        'type="nl.sociaaldomein.safety-debts.status-changed.v1"',
    ).replace(
        'short_name="debt-assistance.status-changed"', 'short_name="safety-debts.status-changed"'
    )
    env = install(tmp_path / "site", unprotected)
    done = subprocess.run(
        [sys.executable, "-m", "hub.cli", "run"],
        capture_output=True,
        text=True,
        env={
            **env,
            "HUB_ENVIRONMENT": "development",
            "HUB_LOGGING__FORMAT": "json",
            # Never reached: the connector is refused before anything connects. Set, so the
            # test does not depend on whether the shell running it names a broker.
            "HUB_KAFKA__BOOTSTRAP_SERVERS": "127.0.0.1:9",
        },
        timeout=120,
        check=False,
    )
    assert done.returncode == 78, done.stderr
    [line] = [
        json.loads(x)
        for x in done.stdout.splitlines() + done.stderr.splitlines()
        if "configuration_invalid" in x
    ]
    assert line["error"] == (
        "entry point hub.connectors:debt-assistance: sends[0].protection: "
        "a safety-* type must declare the safety protection class"
    )


def _refusal(env: dict[str, str], command: str, timeout: float = 120) -> tuple[int, dict[str, Any]]:
    """Exit code and the configuration_invalid line of `hub <command>` (refused before connecting)."""
    try:
        done = subprocess.run(
            [sys.executable, "-m", "hub.cli", command],
            capture_output=True,
            text=True,
            env={
                **env,
                "HUB_ENVIRONMENT": "development",
                "HUB_LOGGING__FORMAT": "json",
                "HUB_KAFKA__BOOTSTRAP_SERVERS": "127.0.0.1:9",
                "HUB_GATEWAY__PORT": "0",
                "HUB_GATEWAY__OPS_PORT": "0",
            },
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"hub {command} started instead of refusing") from exc
    lines = [
        json.loads(x)
        for x in done.stdout.splitlines() + done.stderr.splitlines()
        if "configuration_invalid" in x
    ]
    assert len(lines) == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    return done.returncode, lines[0]


@pytest.mark.parametrize("command", ["run", "gateway"])
@pytest.mark.parametrize(
    ("change", "error"),
    [
        (
            (
                'subject_field="request_id",\n            sender_role="debt-assistance"',
                'subject_field="requestid",\n            sender_role="debt-assistance"',
            ),
            "entry point hub.connectors:debt-assistance: acme_debt: cannot import (ValueError: "
            "nl.sociaaldomein.debt-assistance.status-changed.v1: subject_field 'requestid' is "
            "not a required field of DebtAssistanceStatusChanged)",
        ),
        (
            (
                "class DebtAssistanceStatusChanged(ContractModel):",
                "class DebtAssistanceStatusChanged(ContractModel)",
            ),
            "entry point hub.connectors:debt-assistance: acme_debt: cannot import (SyntaxError: "
            "expected ':' (__init__.py, line 15))",
        ),
    ],
    ids=["subject-field-misspelt", "syntax-error"],
)
def test_a_connector_that_cannot_be_loaded_is_refused_naming_its_entry_point(
    tmp_path: Path, command: str, change: tuple[str, str], error: str
) -> None:
    """A misspelt subject_field or a module that does not compile: exit 78 and one sentence, no traceback."""
    assert change[0] in CONNECTOR
    env = install(tmp_path / "site", CONNECTOR.replace(*change))
    code, line = _refusal(env, command)
    assert code == 78
    assert line["error"] == error


def test_the_gateway_refuses_a_connector_whose_rows_name_an_unknown_field(tmp_path: Path) -> None:
    """`hub gateway` reads the connectors' rows as `hub run` does (docs/connectors.md, step 5)."""
    env = install(tmp_path / "site", CONNECTOR)
    rows = tmp_path / "site" / "acme_debt" / "rows.yaml"
    broken = ROWS | {
        "routes": [ROWS["routes"][0] | {"fields": ["request_id", "reasonn"]}, ROWS["routes"][1]]
    }
    rows.write_text(yaml.safe_dump(broken), encoding="utf-8")
    code, line = _refusal(env, "gateway")
    assert code == 78
    assert "routes[0].fields[1]" in line["error"]
    assert "reasonn" in line["error"]


CSV_RENDERER = """

from hub.connectors import Renderer, Rendered


def _bind(settings):
    def render(given):
        view = given.view
        line = f"{view['request_id']};{view['household_size']};{view['reason']}\\r\\n"
        return Rendered(line, "text/csv", ("request_id", "household_size", "reason"))

    return render


CONNECTOR = dataclasses.replace(
    CONNECTOR,
    role=dataclasses.replace(ROLE, formats=("csv",)),
    renderers=(Renderer(format="csv", types=("debt-assistance.requested",), bind=_bind),),
)
"""

RAW_SCRIPT = """
import json, sys
from hub.settings import HubSettings
from hub.testing import InMemoryPipeline

hub = InMemoryPipeline(HubSettings(partners_file=sys.argv[1]))
for event in json.loads(sys.argv[2]):
    for record in hub.feed(event):
        if ".deliveries." in record.topic:
            headers = {k: v.decode() for k, v in record.headers}
            print("DELIVERY", json.dumps([record.topic.rsplit(".", 1)[-1], headers.get("content-type"), record.value.decode()]))
"""


def test_a_partner_asks_for_its_connectors_own_format_in_the_registry(tmp_path: Path) -> None:
    """`formats: [csv]` in the registry: the connector's renderer writes that partner's deliveries, no core edit."""
    env = install(tmp_path / "site", "import dataclasses\n" + CONNECTOR + CSV_RENDERER)
    partners_file, swt = registry_with_debt_partner(tmp_path, formats=["csv"])
    data = {"request_id": "SHV-1", "household_size": 3, "reason": "Huurachterstand"}
    events = [_event("debt-assistance.requested", swt, data, 1)]
    assert delivered(RAW_SCRIPT, partners_file, events, env) == [
        ["schuldhulp-zwolle", "text/csv", "SHV-1;3;Huurachterstand\r\n"]
    ]


def test_a_format_the_partners_role_does_not_offer_is_refused_by_path(tmp_path: Path) -> None:
    """`formats: [csv]` on a role whose connector offers none: the registry names the entry."""
    partners = [p.model_dump(mode="json", exclude_none=True) for p in load_registry()]
    partners[0]["formats"] = ["csv"]
    path = tmp_path / "partners.yaml"
    path.write_text(yaml.safe_dump({"partners": partners}), encoding="utf-8")
    with pytest.raises(ConfigurationError) as caught:
        load_registry(path)
    assert caught.value.path == "partners[0].formats[0]"
    assert caught.value.message.startswith(f"a {partners[0]['role']} partner cannot use csv")
