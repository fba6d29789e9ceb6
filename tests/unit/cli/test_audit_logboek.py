"""``hub audit export`` and ``hub audit serve``: the disclosure log in the Logboek form."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.audit import open_store
from hub.cli import main
from hub.privacy import Pseudonymiser

from .test_audit_subject import MOTHER, SECRET, seeded_store

__all__ = ["seeded_store"]  # the fixture, shared with hub audit subject's tests

DEFAULT_BASE = "https://register.gemeente.example/verwerkingsactiviteiten/"
OFFICER_KEY = "key-privacy-officer-anna"


def _spans(path: Path) -> list[dict[str, Any]]:
    return [
        span
        for line in path.read_bytes().splitlines()
        for resource in json.loads(line)["resourceSpans"]
        for scope in resource["scopeSpans"]
        for span in scope["spans"]
    ]


def test_export_writes_one_logboek_record_per_disclosure_and_subject(
    seeded_store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every disclosure of the example chain, per data subject, with its activity's URI."""
    output = tmp_path / "logboek.jsonl"

    assert main(["audit", "export", "--store", seeded_store, "--output", str(output)]) == 0

    with open_store(seeded_store, read_only=True) as store:
        disclosures = store.search()
    spans = _spans(output)
    assert len(spans) == sum(max(1, len(d.data_subjects)) for d in disclosures)
    attributes = [{a["key"]: a["value"]["stringValue"] for a in s["attributes"]} for s in spans]
    assert all(a["dpl.core.processing_activity_id"].startswith(DEFAULT_BASE) for a in attributes)
    mother = Pseudonymiser(SECRET.encode())(MOTHER)
    assert any(a.get("dpl.core.data_subject_id") == mother for a in attributes)
    text = output.read_text() + capsys.readouterr().err
    assert MOTHER not in text


def test_export_of_an_empty_window_writes_nothing(
    seeded_store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", "export", "--store", seeded_store, "--since", "2099-01-01"]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "0 Logboek record(s)" in captured.err


def test_serve_refuses_to_start_without_an_officer(
    seeded_store: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("HUB_AUDIT__OFFICERS", raising=False)
    assert main(["audit", "serve", "--store", seeded_store]) == 78
    assert "HUB_AUDIT__OFFICERS" in capsys.readouterr().err


def test_serve_refuses_a_public_address_without_tls(
    seeded_store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    digest = hashlib.sha256(OFFICER_KEY.encode()).hexdigest()
    monkeypatch.setenv(
        "HUB_AUDIT__OFFICERS", json.dumps([{"id": "po-anna", "api_key_sha256": digest}])
    )
    assert main(["audit", "serve", "--store", seeded_store, "--host", "0.0.0.0"]) == 78


@pytest.fixture
def served(seeded_store: str) -> Iterator[str]:
    """``hub audit serve`` as a process of its own, on a free loopback port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    digest = hashlib.sha256(OFFICER_KEY.encode()).hexdigest()
    env = {
        **os.environ,
        "HUB_PRIVACY__PSEUDONYM_SECRET": SECRET,
        "HUB_AUDIT__OFFICERS": json.dumps([{"id": "po-anna", "api_key_sha256": digest}]),
        "HUB_ENVIRONMENT": "development",
    }
    command = [sys.executable, "-m", "hub.cli", "audit", "serve", "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--store", seeded_store],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                httpx.get(base + "/openapi.json", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)
        assert MOTHER.encode() not in output


def test_an_officer_finds_a_residents_records_over_http(served: str) -> None:
    """The real server: a BSN query answers that resident's records; no key is a 401."""
    anonymous = httpx.post(served + "/processing-activities", json={"bsn": MOTHER}, timeout=10)
    answered = httpx.post(
        served + "/processing-activities",
        json={"bsn": MOTHER},
        headers={"X-API-Key": OFFICER_KEY},
        timeout=10,
    )

    assert anonymous.status_code == 401
    assert answered.status_code == 200
    records = answered.json()["records"]
    mother = Pseudonymiser(SECRET.encode())(MOTHER)
    assert records
    assert {r["attributes"]["dpl.core.data_subject_id"] for r in records} == {mother}
    assert MOTHER not in answered.text
