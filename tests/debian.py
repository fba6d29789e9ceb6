"""Programs from Debian's packages that tests use (poppler's pdftotext, ...), installed when absent.

``require`` runs ``scripts/debian-install``: as root (CI) it installs the package with
apt-get; otherwise a missing program fails the test loudly, never skips it.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

__all__ = ["require"]

_SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "debian-install"


def require(package: str, *programs: str) -> dict[str, str]:
    """The paths of ``programs``, installing ``package`` first when one is missing."""
    done = subprocess.run(
        [str(_SCRIPT), package, *programs], capture_output=True, text=True, timeout=900, check=False
    )
    if done.returncode != 0:
        pytest.fail(f"scripts/debian-install {package} failed:\n{done.stderr}")
    found = {program: shutil.which(program) for program in programs}
    missing = [program for program, path in found.items() if path is None]
    if missing:
        pytest.fail(f"{', '.join(missing)} not found after installing {package}")
    return {program: str(path) for program, path in found.items()}
