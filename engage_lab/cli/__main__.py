"""``python -m engage_lab.cli``."""

from __future__ import annotations

import sys

from engage_lab.cli import main

sys.exit(main())
