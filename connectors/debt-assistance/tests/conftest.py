"""Make this connector discoverable in the test session, as installing it beside the hub would.

The hub finds connectors only through discovery (a module of ``hub.roles`` or a
``hub.connectors`` entry point). Before anything imports the hub, this puts ``src/`` on
``sys.path`` with a ``.dist-info`` declaring the entry point of ``pyproject.toml``, so the
tests see the hub exactly as a deployment with this connector installed does, and the
hub's own suite, which runs without it, is unchanged.
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
        f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n",
        encoding="utf-8",
    )
    lines = "".join(f"{name} = {target}\n" for name, target in entry_points.items())
    (info / "entry_points.txt").write_text(f"[hub.connectors]\n{lines}", encoding="utf-8")
    sys.path[:0] = [str(_ROOT / "src"), str(site)]


_install()
