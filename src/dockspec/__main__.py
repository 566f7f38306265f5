"""`python -m dockspec`: the same command as the `dockspec` script."""

from __future__ import annotations

import sys

from dockspec.cli import main

if __name__ == "__main__":
    sys.exit(main())
