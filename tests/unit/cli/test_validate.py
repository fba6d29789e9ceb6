"""`hub validate`: one OK/INVALID line per file, the reasons indented, exit 0, 1 or 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hub.cli import main
from hub.testing import EXAMPLES_DIR, make_event

VALID = EXAMPLES_DIR / "referrals.submitted" / "valid" / "poh-ggz-referral.json"
INVALID = EXAMPLES_DIR / "referrals.submitted" / "invalid" / "bsn-fails-11-proof.json"


def test_all_valid_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    """Valid files print OK and their name; the exit status is 0."""
    other = EXAMPLES_DIR / "cases.closed" / "valid" / "goals-achieved.json"
    assert main(["validate", str(VALID), str(other)]) == 0
    assert capsys.readouterr().out == f"OK {VALID}\nOK {other}\n"


def test_invalid_exits_1_and_lists_the_reasons(capsys: pytest.CaptureFixture[str]) -> None:
    """An invalid file prints INVALID, its name, then one indented line per error: path, code, sentence."""
    assert main(["validate", str(VALID), str(INVALID)]) == 1
    assert capsys.readouterr().out == (
        f"OK {VALID}\n"
        f"INVALID {INVALID}\n"
        "  data.client.bsn BSN_INVALID The BSN fails the 11-proof.\n"
    )


def test_every_error_is_listed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """All problems of a file are listed, envelope first; a root-level one shows its path as '-'."""
    event = make_event("cases.closed", reason="done", envelope={"specversion": "0.3"})
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event), encoding="utf-8")
    assert main(["validate", str(path)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        f"INVALID {path}",
        '  specversion SPECVERSION_UNSUPPORTED Only CloudEvents specversion "1.0" is accepted.',
        "  data.reason VALUE_NOT_ALLOWED Must be one of 'goals-achieved', 'referred-on', 'moved',"
        " 'client-withdrew', 'deceased' or 'other'.",
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read"),
        (b"{oops", "The body is not valid UTF-8 JSON."),
        (b'["not", "an", "object"]', "A CloudEvent must be a JSON object."),
    ],
)
def test_unusable_input_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes | None, message: str
) -> None:
    """A missing file, non-JSON or a non-object exits 2 and is named on stderr; others still run."""
    path = tmp_path / "event.json"
    if content is not None:
        path.write_bytes(content)
    assert main(["validate", str(path), str(INVALID)]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith(f"ERROR {path}: {message}")
    assert captured.out.startswith(f"INVALID {INVALID}\n")


def test_unknown_source_is_invalid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """With another registry, an event whose source no partner has is INVALID at `source`."""
    registry = tmp_path / "partners.yaml"
    registry.write_text(
        "partners:\n"
        "  - {id: swt, role: swt, source: 'urn:nld:oin:1:systeem:wijkteam'}\n"
        "  - {id: bo, role: backoffice, source: 'urn:nld:oin:1:systeem:backoffice'}\n"
        "  - {id: vt, role: veilig-thuis, source: 'urn:nld:oin:2:systeem:vt'}\n",
        encoding="utf-8",
    )
    assert main(["validate", "--partners", str(registry), str(VALID)]) == 1
    assert capsys.readouterr().out == (
        f"INVALID {VALID}\n  source SOURCE_MISMATCH No registered partner sends as this source.\n"
    )


def test_bad_registry_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A registry that does not load exits 2 before any file is read."""
    registry = tmp_path / "partners.yaml"
    registry.write_text("partners: []\n", encoding="utf-8")
    assert main(["validate", "--partners", str(registry), str(VALID)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("ERROR partner registry: partners: a deployment needs")


def test_an_event_over_256_kib_is_event_too_large(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file holding an event over 256 KiB is INVALID with EVENT_TOO_LARGE only, as on every channel."""
    event = make_event("outcomes.reported")
    event["data"]["results"][0]["indicators"] = {f"indicator_{n:05d}": n for n in range(15_000)}
    path = tmp_path / "huge.json"
    path.write_text(json.dumps(event), encoding="utf-8")
    assert main(["validate", str(path)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"INVALID {path}",
        "  - EVENT_TOO_LARGE The event is over 256 KiB (its compact JSON); "
        "split it over several events.",
    ]


def test_the_municipalitys_result_areas_are_the_ones_checked(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`hub validate` takes HUB_PRIVACY__RESULT_AREAS as the gateway and the router do."""
    request = EXAMPLES_DIR / "provisions.requested" / "valid" / "begeleiding-outputgericht.json"
    areas = json.loads(request.read_text(encoding="utf-8"))["data"]["result_areas"]
    monkeypatch.setenv("HUB_PRIVACY__RESULT_AREAS", json.dumps(["thuis-ondersteuning"]))
    assert main(["validate", str(request)]) == 1
    assert "RESULT_AREA_UNKNOWN" in capsys.readouterr().out
    monkeypatch.setenv("HUB_PRIVACY__RESULT_AREAS", json.dumps([*areas, "thuis-ondersteuning"]))
    assert main(["validate", str(request)]) == 0


@pytest.mark.parametrize("areas", [[""], ["  "], ["x" * 65], []])
def test_a_result_area_list_the_contract_cannot_use_is_refused(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], areas: list[str]
) -> None:
    """An empty, blank or over-long area (or an empty list) is a configuration error, named, not quoted."""
    monkeypatch.setenv("HUB_PRIVACY__RESULT_AREAS", json.dumps(areas))
    assert main(["validate", str(VALID)]) == 2
    err = capsys.readouterr().err
    assert "HUB_PRIVACY__RESULT_AREAS" in err
    assert "xxxxx" not in err
