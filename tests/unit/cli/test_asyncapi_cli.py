"""``hub asyncapi``: the document of the configured deployment, on stdout or in a file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from hub.asyncapi import asyncapi_document, render_document
from hub.cli import main
from hub.connectors.registry import DEMO_REGISTRY_PATH, load_registry
from hub.settings import HubSettings


def test_the_document_goes_to_stdout_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    """Without --output the command prints the demo deployment's document, as the function builds it."""
    assert main(["asyncapi"]) == 0
    printed = capsys.readouterr().out
    expected = render_document(asyncapi_document(HubSettings(), load_registry()))
    assert printed.encode() == expected


def test_output_writes_the_document_for_the_given_registry(tmp_path: Path) -> None:
    """--partners chooses the registry: a provider with iwmo: true gets XML assignments."""
    raw = yaml.safe_load(DEMO_REGISTRY_PATH.read_text(encoding="utf-8"))
    for partner in raw["partners"]:
        partner["iwmo"] = partner["role"] == "provider"
    partners = tmp_path / "partners.yaml"
    partners.write_text(yaml.safe_dump(raw), encoding="utf-8")
    output = tmp_path / "asyncapi.json"
    assert main(["asyncapi", "--partners", str(partners), "--output", str(output)]) == 0
    document = json.loads(output.read_bytes())
    channel = document["channels"]["deliveries.provider-thuiszorg-zwolle"]
    name = channel["messages"]["assignments.issued"]["$ref"].rsplit("/", 1)[1]
    assert document["components"]["messages"][name]["contentType"] == "application/xml"


def test_an_unreadable_registry_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A registry that cannot be read is named on stderr; nothing goes to stdout."""
    assert main(["asyncapi", "--partners", str(tmp_path / "missing.yaml")]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("hub asyncapi: ")


def test_an_unwritable_output_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An output path in a missing directory is refused with exit 2."""
    assert main(["asyncapi", "--output", str(tmp_path / "no" / "such" / "file.json")]) == 2
    assert "cannot write" in capsys.readouterr().err
