"""Reading the hub's YAML configuration files (partner registry, table, rows), one way.

A file that cannot be read or parsed is a ConfigurationError naming the file and, for a
syntax error, the line and column: never the text around it (a registry holds secrets'
digests and partners' addresses).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from hub.errors import ConfigurationError

__all__ = ["read_yaml"]


def read_yaml(path: Path) -> Any:
    """The document in ``path``; ConfigurationError when it cannot be read or is not YAML."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigurationError(str(path), "", f"cannot read file ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ConfigurationError(str(path), "", "not UTF-8 text") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise ConfigurationError(str(path), where, "not valid YAML") from None
