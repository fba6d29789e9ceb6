"""``hub connector new``: a scaffold that passes the kit and its own tests as written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hub.cli.connector import files_for
from hub.cli.main import main

REPO = Path(__file__).resolve().parents[3]


def test_a_scaffolded_distribution_passes_its_own_tests_out_of_the_box(tmp_path: Path) -> None:
    """Scaffold into a folder, run the tests it wrote (the kit, both types in memory): they pass."""
    assert (
        main(
            [
                "connector",
                "new",
                "leerplicht",
                "--role",
                "leerplicht-office",
                "--dir",
                str(tmp_path),
            ]
        )
        == 0
    )
    root = tmp_path / "leerplicht"
    assert sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) == [
        "pyproject.toml",
        "src/hub_leerplicht/__init__.py",
        "src/hub_leerplicht/examples/leerplicht.requested/valid/request.json",
        "src/hub_leerplicht/examples/leerplicht.status-changed/valid/accepted.json",
        "src/hub_leerplicht/rows.yaml",
        "tests/conftest.py",
        "tests/test_leerplicht.py",
    ]
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(root / "tests")],
        cwd=tmp_path,
        env={**os.environ, "HUB_ENVIRONMENT": "development"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert "2 passed" in result.stdout


def test_by_default_the_connector_goes_into_the_hubs_source_tree() -> None:
    """Without --dir: src/hub/roles/<name>/ and tests/unit/roles/test_<name>.py."""
    files = sorted(
        str(p.relative_to(REPO)) for p in files_for("leerplicht", "leerplicht-office", None)
    )
    assert [f for f in files if not f.endswith("__init__.py") or "roles/leerplicht" in f] == [
        "src/hub/roles/leerplicht/__init__.py",
        "src/hub/roles/leerplicht/examples/leerplicht.requested/valid/request.json",
        "src/hub/roles/leerplicht/examples/leerplicht.status-changed/valid/accepted.json",
        "src/hub/roles/leerplicht/rows.yaml",
        "tests/unit/roles/test_leerplicht.py",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["Leerplicht", "--role", "x"], "NAME must be a lowercase slug like leerplicht-office"),
        (["x", "--role", "swt"], "role swt is declared by hub.roles.swt already"),
        (["referrals", "--role", "x"], "type referrals.status-changed is declared already"),
        (["leerplicht\n", "--role", "x"], "NAME must be a lowercase slug"),
        (["safety-debts", "--role", "x"], "would name safety-class types (safety-*)"),
        (["coach", "--role", "referring-gp"], "ROLE referring-gp is the name of a selector"),
    ],
)
def test_a_name_or_role_that_cannot_be_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    """A bad slug, a declared role or type: exit 2, one sentence, nothing written."""
    assert main(["connector", "new", *args, "--dir", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_nothing_is_overwritten(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A second scaffold into the same place is refused and leaves the first as it was."""
    args = ["connector", "new", "leerplicht", "--role", "leerplicht-office", "--dir", str(tmp_path)]
    assert main(args) == 0
    rows = tmp_path / "leerplicht" / "src" / "hub_leerplicht" / "rows.yaml"
    rows.write_text("changed", encoding="utf-8")
    capsys.readouterr()
    assert main(args) == 2
    assert "exists; nothing was written" in capsys.readouterr().err
    assert rows.read_text(encoding="utf-8") == "changed"


def test_help_names_the_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    """``--help`` explains NAME, --role and --dir, and where the files go."""
    with pytest.raises(SystemExit) as raised:
        main(["connector", "new", "--help"])
    assert raised.value.code == 0
    out = capsys.readouterr().out
    assert "usage: hub connector new [-h] --role ROLE [--dir DIR] NAME" in out
    assert "src/hub/roles/<name>/" in out
