"""Suite-wide settings.

The suite tests the compiled kernels unless a test asks for a tier
(:func:`engage_lab.tiers.forced`): under the default ``auto`` every small replay of the
suite would run the kernels' Python source, and the compiled code would go untested. The
interpreted tier has its own tests (``tests/engine/test_tiers.py, tests/replay/test_tiers_replay.py``). No test starts a
background compilation.
"""

from __future__ import annotations

import os

os.environ.setdefault("ENGAGE_LAB_KERNELS", "compiled")
os.environ.setdefault("ENGAGE_LAB_WARM", "0")
