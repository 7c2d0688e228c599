"""``python -m quantkit.reports report|schedule ...`` (the same sub-commands as ``quantkit``)."""

from __future__ import annotations

import sys

from quantkit.reports.commands import main

__all__: list[str] = []

if __name__ == "__main__":
    sys.exit(main())
