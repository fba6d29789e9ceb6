"""``python -m hub``: the `hub` command (the same as ``python -m hub.cli``)."""

import sys

from hub.cli.main import main

sys.exit(main())
