"""``hub iwmo inbound|outbound``: the translator behind the live pipeline's per-event step, in memory."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from hub.cli import main
from hub.iwmo import event_id, identificatie_301
from tests.unit.routing.routing_helpers import EXAMPLES, example

from .iwmo_documents import (
    CLIENT_BIRTH_DATE,
    CLIENT_BSN,
    CLIENT_NAME,
    NUMBER,
    PROVIDER_AGB,
    start,
    stop,
    wmo302,
    wmo305,
    wmo307,
)

ISSUED = EXAMPLES / "assignments.issued/valid/new-outputgericht.json"
ISSUED_INSPANNINGSGERICHT = Path(__file__).parents[1] / "iwmo/data/assignments-issued-wmo.json"
PROVIDER_SOURCE = "urn:nld:agb:73730001"
DATA = Path(__file__).parent / "data"
ITEM = "/Bericht/Client/StartProducten/StartProduct"
STOP_ITEM = "/Bericht/Client/StopProducten/StopProduct"


def iwmo(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, dict[str, Any]]:
    """Run ``hub iwmo ...`` in-process: its exit code and its JSON output."""
    code = main(["iwmo", *map(str, args)])
    out = capsys.readouterr().out
    assert len(out.splitlines()) == 1
    return code, json.loads(out)


def write(tmp_path: Path, name: str, body: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(body)
    return path


def personal_data_outside_documents(result: dict[str, Any]) -> list[str]:
    """The client's BSN, name or birth date anywhere but the retour and the 301 text."""
    rest = json.dumps({k: v for k, v in result.items() if k not in ("retour", "wmo301")})
    return [value for value in (CLIENT_BSN, CLIENT_NAME, CLIENT_BIRTH_DATE) if value in rest]


# ---------------------------------------------------------------------- inbound 305/307


def test_an_approved_305_publishes_one_event_per_start_and_answers_header_only(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """An approved 305 prints its care.started events, a Header-only 306, no codes, exit 0."""
    document = write(tmp_path, "305.xml", wmo305("TZ-305-0001"))
    code, result = iwmo(capsys, "inbound", "--after", ISSUED, document)
    assert code == 0
    assert result["accepted"] is True
    assert result["retourcodes"] == {}
    assert result["errors"] == []
    assert "retour_of" not in result
    [event] = result["events"]
    assert event["id"] == event_id(PROVIDER_AGB, 418, "TZ-305-0001", int(NUMBER), 1)
    assert {k: event[k] for k in ("specversion", "source", "type", "subject")} == {
        "specversion": "1.0",
        "source": PROVIDER_SOURCE,
        "type": "nl.sociaaldomein.care.started.v1",
        "subject": NUMBER,
    }
    assert event["data"] == {
        "assignment_number": NUMBER,
        "provider_agb": PROVIDER_AGB,
        "product": {"category": "02", "code": "02A05"},
        "started_on": "2025-04-07",
        "delivery_status": "new",
    }
    retour = result["retour"]
    assert "wmo306/schema" in retour
    assert "<BerichtCode>419</BerichtCode>" in retour
    assert "<RetourCodes>" not in retour
    assert "<Client>" not in retour
    assert "\r\n" in retour
    assert personal_data_outside_documents(result) == []


def test_a_305_broken_inside_the_document_gets_0001_and_no_event(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Level 2 (CS058, StatusAanlevering 2): Header-only retour with 0001, each failure listed, exit 1."""
    document = write(tmp_path, "305.xml", wmo305("TZ-305-0002", start(status="2")))
    code, result = iwmo(capsys, "inbound", "--after", ISSUED, document)
    assert code == 1
    assert result["accepted"] is False
    assert result["events"] == []
    assert result["retourcodes"] == {"Header": ["0001"]}
    assert result["errors"] == [
        {
            "code": "STATUS_NOT_ALLOWED",
            "path": f"{ITEM}[1]/StatusAanlevering",
            "retourcode": "0001",
        }
    ]
    assert "<RetourCode>0001</RetourCode>" in result["retour"]
    assert "<Client>" not in result["retour"]
    assert personal_data_outside_documents(result) == []


def test_a_305_failing_against_the_state_gets_a_code_per_class(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Levels 3-4: the Client echoed, 0200 where nothing is wrong, 9019 on the unknown number; no event."""
    document = write(tmp_path, "305.xml", wmo305("TZ-305-0003", start(), start(number="25000199")))
    code, result = iwmo(capsys, "inbound", "--after", ISSUED, document)
    assert code == 1
    assert result["accepted"] is False
    assert result["events"] == []
    assert result["retourcodes"] == {
        "Header": ["0200"],
        "Client": ["0200"],
        "StartProduct[1]": ["0200"],
        "StartProduct[2]": ["9019"],
    }
    assert result["errors"] == [
        {
            "code": "ASSIGNMENT_UNKNOWN",
            "path": f"{ITEM}[2]/ToewijzingNummer",
            "retourcode": "9019",
        }
    ]
    assert "<Client>" in result["retour"]  # the sender's own client, echoed to it only
    assert personal_data_outside_documents(result) == []


def test_a_305_to_another_municipality_gets_s300_on_the_header_only(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A Header rule (S300: Ontvanger is not iwmo.gemeentecode) answers Header-only with its code."""
    document = write(tmp_path, "305.xml", wmo305("TZ-305-0004", ontvanger="0363"))
    code, result = iwmo(capsys, "inbound", "--after", ISSUED, document)
    assert code == 1
    assert result["retourcodes"] == {"Header": ["S300"]}
    assert result["errors"] == [
        {"code": "RECEIVER_UNKNOWN", "path": "/Bericht/Header/Ontvanger", "retourcode": "S300"}
    ]


def test_the_gemeentecode_and_the_size_limit_come_from_the_settings(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HUB_IWMO__GEMEENTECODE and HUB_IWMO__MAX_BYTES set the iwmo section the command uses."""
    document = write(tmp_path, "305.xml", wmo305("TZ-305-0005", ontvanger="0363"))
    monkeypatch.setenv("HUB_IWMO__GEMEENTECODE", "0363")
    code, result = iwmo(capsys, "inbound", "--after", ISSUED, document)
    assert (code, result["accepted"]) == (0, True)
    monkeypatch.setenv("HUB_IWMO__MAX_BYTES", "100")
    code, result = iwmo(capsys, "inbound", "--after", ISSUED, document)
    assert code == 1
    assert result["errors"] == [{"code": "XML_TOO_LARGE", "path": "/", "retourcode": None}]


def test_a_307_after_its_305_publishes_care_stopped(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A 307 stopping the start an earlier 305 (an --after document) reported is approved."""
    started = write(tmp_path, "305.xml", wmo305("TZ-305-0006"))
    stopped = write(tmp_path, "307.xml", wmo307("TZ-307-0001"))
    code, result = iwmo(capsys, "inbound", "--after", ISSUED, "--after", started, stopped)
    assert code == 0
    assert result["retourcodes"] == {}
    [event] = result["events"]
    assert event["type"] == "nl.sociaaldomein.care.stopped.v1"
    assert event["id"] == event_id(PROVIDER_AGB, 420, "TZ-307-0001", int(NUMBER), 1)
    assert event["data"] == {
        "assignment_number": NUMBER,
        "provider_agb": PROVIDER_AGB,
        "product": {"category": "02", "code": "02A05"},
        "stopped_on": "2025-06-30",
        "reason": "02",
        "delivery_status": "new",
    }
    assert "wmo308/schema" in result["retour"]


def test_a_307_without_its_305_gets_9069(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A stop of a start nobody reported is CARE_NOT_STARTED (9069) on its StopProduct."""
    stopped = write(tmp_path, "307.xml", wmo307("TZ-307-0002"))
    code, result = iwmo(capsys, "inbound", "--after", ISSUED, stopped)
    assert code == 1
    assert result["retourcodes"]["StopProduct[1]"] == ["9069"]
    assert result["errors"] == [
        {"code": "CARE_NOT_STARTED", "path": f"{STOP_ITEM}[1]", "retourcode": "9069"}
    ]


def test_a_307_may_stop_care_started_with_a_json_event(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The care a JSON care.started reported counts as a start for the iWmo checks."""
    json_start = EXAMPLES / "care.started/valid/begeleiding-started.json"
    stopped = write(tmp_path, "307.xml", wmo307("TZ-307-0003", stop(begin="2025-04-01")))
    code, result = iwmo(capsys, "inbound", "--after", ISSUED, json_start, stopped)
    assert (code, result["errors"]) == (0, [])
    assert [e["type"] for e in result["events"]] == ["nl.sociaaldomein.care.stopped.v1"]


def test_the_same_305_again_gets_the_stored_retour_and_publishes_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Replay: the same sender, Identificatie and bytes get the first retour again, no event."""
    document = write(tmp_path, "305.xml", wmo305("TZ-305-0007"))
    _, first = iwmo(capsys, "inbound", "--after", ISSUED, document)
    code, again = iwmo(capsys, "inbound", "--after", ISSUED, document, document)
    assert code == 0
    assert again == {**first, "events": []}
    rejected = write(tmp_path, "bad.xml", wmo305("TZ-305-0008", start(number="25000199")))
    _, first = iwmo(capsys, "inbound", "--after", ISSUED, rejected)
    code, again = iwmo(capsys, "inbound", "--after", ISSUED, rejected, rejected)
    assert code == 1
    assert again == first  # the codes of the first answer, from the kept receipt
    assert again["retourcodes"] == {
        "Header": ["0200"],
        "Client": ["0200"],
        "StartProduct[1]": ["9019"],
    }


def test_other_bytes_under_a_used_identificatie_get_9056(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """TR056: another document under an Identificatie the sender used gets 9056 on the Header."""
    used = write(tmp_path, "305.xml", wmo305("TZ-305-0009"))
    other = write(tmp_path, "other.xml", wmo305("TZ-305-0009", start("2025-04-08")))
    code, result = iwmo(capsys, "inbound", "--after", ISSUED, used, other)
    assert code == 1
    assert result["retourcodes"] == {"Header": ["9056"]}


def test_a_9056_does_not_replace_the_first_messages_receipt(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """After a 9056 the first document's own resend is still a replay of its retour."""
    used = write(tmp_path, "305.xml", wmo305("TZ-305-0012"))
    other = write(tmp_path, "other.xml", wmo305("TZ-305-0012", start("2025-04-08")))
    _, first = iwmo(capsys, "inbound", "--after", ISSUED, used)
    code, again = iwmo(capsys, "inbound", "--after", ISSUED, used, other, used)
    assert code == 0
    assert again == {**first, "events": []}


def test_a_level_1_refusal_has_no_retour_and_no_retourcode(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A DOCTYPE is refused at level 1: exit 1, no retour, the error's retourcode null."""
    body = wmo305("TZ-305-0010").replace(
        b"<Bericht ", b'<!DOCTYPE Bericht [<!ENTITY x "y">]>\n<Bericht ', 1
    )
    code, result = iwmo(capsys, "inbound", "--after", ISSUED, write(tmp_path, "x.xml", body))
    assert code == 1
    assert result == {
        "accepted": False,
        "events": [],
        "retour": None,
        "retourcodes": {},
        "errors": [{"code": "XML_FORBIDDEN", "path": "/", "retourcode": None}],
    }


def test_a_document_posted_by_another_provider_is_agb_not_sender(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """--sender names the poster: an Afzender that is not its AGB is AGB_NOT_SENDER (level 1)."""
    document = write(tmp_path, "305.xml", wmo305("TZ-305-0011"))
    code, result = iwmo(
        capsys, "inbound", "--sender", "provider-jeugdhulp-ijssel", "--after", ISSUED, document
    )
    assert code == 1
    assert result["errors"] == [
        {"code": "AGB_NOT_SENDER", "path": "/Bericht/Header/Afzender", "retourcode": None}
    ]
    unknown = write(tmp_path, "unknown.xml", wmo305("TZ-305-0012", afzender="12345678"))
    code, result = iwmo(capsys, "inbound", unknown)
    assert code == 1
    assert result["errors"] == [
        {"code": "AGB_NOT_SENDER", "path": "/Bericht/Header/Afzender", "retourcode": None}
    ]
    code, result = iwmo(capsys, "inbound", "--sender", "backoffice-zwolle", document)
    assert code == 1
    assert result["errors"] == [{"code": "TYPE_NOT_ALLOWED", "path": "/", "retourcode": None}]
    # As the gateway's 403: before the document is read, whatever it holds.
    broken = write(tmp_path, "broken.xml", b"<not-xml")
    code, result = iwmo(capsys, "inbound", "--sender", "backoffice-zwolle", broken)
    assert code == 1
    assert result["errors"] == [{"code": "TYPE_NOT_ALLOWED", "path": "/", "retourcode": None}]


def test_an_unknown_sender_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """--sender naming no registered partner, or a file that cannot be read: exit 2, nothing printed."""
    document = write(tmp_path, "305.xml", wmo305("TZ-305-0013"))
    assert main(["iwmo", "inbound", "--sender", "nobody", str(document)]) == 2
    assert main(["iwmo", "inbound", str(tmp_path / "missing.xml")]) == 2
    assert capsys.readouterr().out == ""


def test_a_second_stop_of_a_temporarily_stopped_start_is_approved_and_routed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """iWmo allows a second stop of a temporarily stopped start (9415 spares reason 20); so do the hub's rules.

    The stop names no start on the event (iwmo.md, section 4): it stops the latest start on
    or before its date, here the first one, stopped for a while with reason 20.
    """
    files = [
        write(tmp_path, "a.xml", wmo305("TZ-305-A")),
        write(tmp_path, "b.xml", wmo307("TZ-307-A", stop(end="2025-04-30", reason="20"))),
        write(tmp_path, "c.xml", wmo305("TZ-305-B", start("2025-05-10"))),
    ]
    second_stop = write(tmp_path, "d.xml", wmo307("TZ-307-B", stop(end="2025-05-01")))
    code, result = iwmo(capsys, "inbound", "--after", ISSUED, *files, second_stop)
    assert code == 0
    assert result["accepted"] is True
    assert result["retourcodes"] == {}
    assert [e["type"] for e in result["events"]] == ["nl.sociaaldomein.care.stopped.v1"]
    assert "dead_lettered" not in result


def test_an_approval_the_hub_rules_refuse_stands_and_the_event_is_dead_lettered(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """When the hub's rules refuse an approved message's event, the approval stands (as live).

    iWmo checks a deletion (StatusAanlevering 3) only for 9063 and 9071 (iwmo.md, section
    5), so a start of an assignment withdrawn meanwhile may be deleted; the hub's rules
    accept nothing on a withdrawn assignment: the router dead-letters the event, which
    `dead_lettered` reports.
    """
    issued = json.loads(ISSUED.read_text(encoding="utf-8"))
    withdrawn = {**issued, "id": "withdrawn-1"}
    withdrawn["data"] = {**issued["data"], "status": "withdrawn", "change_reason": "13"}
    files = [
        write(tmp_path, "a.xml", wmo305("TZ-305-A")),
        write(tmp_path, "w.json", json.dumps(withdrawn).encode()),
    ]
    delete = write(tmp_path, "d.xml", wmo305("TZ-305-D", start(status="3")))
    code, result = iwmo(capsys, "inbound", "--after", ISSUED, *files, delete)
    assert code == 0
    assert result["accepted"] is True
    assert [e["type"] for e in result["events"]] == ["nl.sociaaldomein.care.started.v1"]
    assert [d["code"] for d in result["dead_lettered"]] == ["ASSIGNMENT_WITHDRAWN"]


# ---------------------------------------------------------------------- inbound 302


def test_a_302_on_a_301_the_hub_sent_is_matched(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A 302 naming the 301 rendered for an --after assignments.issued is accepted, never answered."""
    issued = example("assignments.issued/valid/new-outputgericht.json")
    identificatie = identificatie_301(issued["source"], issued["id"])
    retour = write(tmp_path, "302.xml", wmo302(identificatie))
    code, result = iwmo(capsys, "inbound", "--after", ISSUED, retour)
    assert code == 0
    assert result == {
        "accepted": True,
        "events": [],
        "retour": None,
        "retourcodes": {},
        "errors": [],
        "retour_of": {"identificatie": identificatie, "outcome": "acknowledged"},
    }


def test_a_302_on_no_301_sent_is_retour_unmatched(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A 302 naming a 301 the hub did not send to that provider: RETOUR_UNMATCHED, exit 1."""
    issued = example("assignments.issued/valid/new-outputgericht.json")
    identificatie = identificatie_301(issued["source"], issued["id"])
    retour = write(tmp_path, "302.xml", wmo302(identificatie))
    code, result = iwmo(capsys, "inbound", retour)  # nothing was issued, so no 301 was sent
    assert code == 1
    assert result["accepted"] is False
    assert result["errors"] == [
        {
            "code": "RETOUR_UNMATCHED",
            "path": "/Bericht/Header/BerichtIdentificatie/Identificatie",
            "retourcode": None,
        }
    ]
    assert result["retour_of"] == {"identificatie": identificatie, "outcome": "acknowledged"}
    other = write(tmp_path, "other.xml", wmo302("0123456789ab"))
    code, result = iwmo(capsys, "inbound", "--after", ISSUED, other)
    assert code == 1
    assert result["errors"][0]["code"] == "RETOUR_UNMATCHED"


# ---------------------------------------------------------------------- outbound


def test_outbound_renders_the_301_of_a_wmo_inspanningsgericht_assignment(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A Wmo inspanningsgericht assignment becomes a 301 from the gemeente to its provider."""
    code, result = iwmo(capsys, "outbound", ISSUED_INSPANNINGSGERICHT)
    assert code == 0
    assert set(result) == {"wmo301", "reason"}
    assert result["reason"] is None
    issued = json.loads(ISSUED_INSPANNINGSGERICHT.read_text())
    text = result["wmo301"]
    assert "wmo301/schema" in text
    assert "<Afzender>0193</Afzender>" in text
    assert "<Ontvanger>73730001</Ontvanger>" in text
    assert f"<bs:Identificatie>{identificatie_301(issued['source'], issued['id'])}<" in text
    assert "<ToewijzingNummer>26000311</ToewijzingNummer>" in text


def test_outbound_lists_the_clients_other_assignments_at_the_provider(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """OP087: a 301 lists every current assignment of the client at the provider, by number."""
    second = example("assignments.issued/valid/new-outputgericht.json")
    second["id"] = "5b0f3f0e-7c54-5d0e-9b0a-3c1d2e4f5a61"
    second["subject"] = second["data"]["assignment_number"] = "25000111"
    second["data"]["product"] = {"category": "02", "code": "02A06"}
    path = write(tmp_path, "second.json", json.dumps(second).encode())
    code, result = iwmo(capsys, "outbound", "--after", ISSUED, path)
    assert code == 0
    numbers = re.findall(r"<ToewijzingNummer>(\d+)<", result["wmo301"])
    assert numbers == [NUMBER, "25000111"]
    changed = EXAMPLES / "assignments.issued/valid/changed-volume.json"
    code, result = iwmo(capsys, "outbound", "--after", ISSUED, path, changed)
    assert code == 0
    assert re.findall(r"<ToewijzingNummer>(\d+)<", result["wmo301"]) == [NUMBER, "25000111"]
    assert result["wmo301"].count("<RedenWijziging>02</RedenWijziging>") == 1  # its own only


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("new-inspanningsgericht-jeugdwet.json", "not-wmo"),
        ("new-taakgericht-budget.json", "taakgericht"),
    ],
)
def test_outbound_gives_the_reason_when_there_is_no_301(
    capsys: pytest.CaptureFixture[str], name: str, reason: str
) -> None:
    """Another law is not-wmo, a taakgericht assignment is taakgericht: wmo301 null, exit 0."""
    code, result = iwmo(capsys, "outbound", EXAMPLES / "assignments.issued/valid" / name)
    assert (code, result) == (0, {"wmo301": None, "reason": reason})


def test_outbound_of_an_event_the_hub_rejects_exits_1_with_its_errors(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A change of an assignment never issued is rejected by the hub's rules: exit 1, errors."""
    changed = EXAMPLES / "assignments.issued/valid/changed-volume.json"
    code, result = iwmo(capsys, "outbound", changed)
    assert code == 1
    assert result["wmo301"] is None
    assert result["reason"] is None
    assert [(e["code"], e["path"]) for e in result["errors"]] == [
        ("ASSIGNMENT_UNKNOWN", "data.assignment_number")
    ]


def test_the_command_runs_as_python_m_hub(tmp_path: Path) -> None:
    """``python -m hub iwmo inbound`` prints the same one JSON object and exit code."""
    document = write(tmp_path, "305.xml", wmo305("TZ-305-0014"))
    completed = subprocess.run(
        [sys.executable, "-m", "hub", "iwmo", "inbound", "--after", str(ISSUED), str(document)],
        capture_output=True,
        check=False,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout)
    assert result["accepted"] is True
    assert [e["type"] for e in result["events"]] == ["nl.sociaaldomein.care.started.v1"]


def test_the_session_of_docs_iwmo_md(capsys: pytest.CaptureFixture[str]) -> None:
    """The documented session: the 301, a 302 matched to it, a 305 and then a 307 approved."""
    issued = ISSUED_INSPANNINGSGERICHT
    code, result = iwmo(capsys, "inbound", "--after", issued, DATA / "wmo302-approved.xml")
    assert (code, result["retour_of"]) == (
        0,
        {"identificatie": "0c4435bad64e", "outcome": "acknowledged"},
    )
    started = DATA / "wmo305-started.xml"
    code, result = iwmo(capsys, "inbound", "--after", issued, started)
    assert (code, [e["data"]["started_on"] for e in result["events"]]) == (0, ["2026-10-01"])
    stopped = ISSUED_INSPANNINGSGERICHT.parent / "wmo307.xml"
    code, result = iwmo(capsys, "inbound", "--after", issued, started, stopped)
    assert (code, [e["data"]["stopped_on"] for e in result["events"]]) == (0, ["2026-11-20"])


# An assignment with a legal representative and no 301 (taakgericht: none is sent), so
# the client is known from the routing state alone.
TAAKGERICHT = DATA / "assignments-issued-taakgericht-representative.json"


def test_a_start_for_the_legal_representatives_bsn_is_9019(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Bsn not its client's: the representative's BSN, also kept among the assignment's subjects, is not the client's."""
    code, result = iwmo(
        capsys, "inbound", "--after", TAAKGERICHT, DATA / "wmo305-representative-bsn.xml"
    )
    assert (code, result["accepted"], result["events"]) == (1, False, [])
    assert result["errors"] == [
        {"code": "ASSIGNMENT_UNKNOWN", "path": "/Bericht/Client/Bsn", "retourcode": "9019"}
    ]


def test_a_stop_of_a_start_reported_as_json_is_approved_beside_a_representative(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The start a JSON care.started reported is the client's, whoever else the assignment names."""
    code, result = iwmo(
        capsys,
        "inbound",
        "--after",
        TAAKGERICHT,
        "--after",
        DATA / "care-started-taakgericht.json",
        DATA / "wmo307-taakgericht.xml",
    )
    assert (code, result["accepted"], result["errors"]) == (0, True, [])


def test_a_start_for_a_jeugdwet_assignment_is_refused_for_its_law_first(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """9019's reasons in iwmo.md's order: "law not wmo" before "Bsn not its client's"."""
    code, result = iwmo(
        capsys,
        "inbound",
        "--after",
        DATA / "assignments-issued-jeugdwet.json",
        DATA / "wmo305-jeugdwet-other-bsn.xml",
    )
    assert code == 1
    assert [e["code"] for e in result["errors"]] == ["CATEGORY_LAW_MISMATCH"]
