"""Settings every test shares: the tests run on the demo registry, so they say they are development."""

from __future__ import annotations

import os

# `hub run` and `hub gateway` refuse the demo registry and the demo pseudonym secret
# outside development; the tests (and subprocesses they start) use both on purpose.
os.environ.setdefault("HUB_ENVIRONMENT", "development")
