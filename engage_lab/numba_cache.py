"""Where numba caches the compiled kernels: beside the sources, or a folder that works.

numba caches a ``cache=True`` kernel in ``__pycache__`` beside its source, else in the
user's cache folder (``~/.cache/numba``), and refuses to define the kernel when it can
write neither ("cannot cache function ...: no locator available"): an install in a
read-only location, run by a user without a writable home, could not even import. When
``NUMBA_CACHE_DIR`` is not set and neither place is writable, :func:`ensure` points numba
at a folder of the system's temporary directory, per user.

>>> ensure() is None or ensure().is_dir()
True
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

__all__ = ["ensure"]

_PACKAGE = Path(__file__).resolve().parent


def _writable(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False


def _user_cache() -> Path:
    """numba's own user-wide cache folder (its locator asks the same ``AppDirs``)."""
    from numba.misc.appdirs import AppDirs

    return Path(AppDirs(appname="numba", appauthor=False).user_cache_dir)


def ensure() -> Path | None:
    """The folder chosen for numba's cache when it had none usable (else None)."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return None
    if _writable(_PACKAGE / "engine" / "__pycache__") or _writable(_user_cache()):
        return None
    uid = os.getuid() if hasattr(os, "getuid") else "user"
    folder = Path(tempfile.gettempdir()) / f"engage_lab-numba-{uid}"
    if not _writable(folder):
        return None  # nothing writable at all: numba says so itself
    os.environ["NUMBA_CACHE_DIR"] = str(folder)
    if "numba" in sys.modules:  # already configured: tell it too
        import numba.core.config

        numba.core.config.CACHE_DIR = str(folder)
    return folder
