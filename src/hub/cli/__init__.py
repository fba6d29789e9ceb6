"""The `hub` command line: one module per sub-command (see ``main``)."""

from hub.cli.main import main

__all__ = ["main"]
