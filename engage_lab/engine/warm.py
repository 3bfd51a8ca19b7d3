"""Compile the kernels into numba's on-disk cache, in a process of its own.

``python -m engage_lab.engine.warm replay`` (or ``world``) generates a small world of each
mode in a temporary folder, loads it and replays it with the packaged production
configuration, with the kernels forced to their compiled tier, so that the compiled code
lands in the cache (``__pycache__`` beside the sources, or ``NUMBA_CACHE_DIR``). ``world``
also records the world's chat events with the compiled recorder.
:func:`engage_lab.tiers.warm_in_background` starts it after a small run interpreted the
kernels; later runs load the compiled code from the cache. One warm-up runs at a time per
cache (a lock file); a second one exits at once.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import sys
import tempfile
from pathlib import Path

TARGETS = ("replay", "world")


def lock_path() -> Path:
    """The lock file of the warm-up for this installation and cache folder."""
    import engage_lab

    where = f"{Path(engage_lab.__file__).resolve()}|{os.environ.get('NUMBA_CACHE_DIR', '')}"
    digest = hashlib.sha256(where.encode("utf-8", "surrogateescape")).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"engage_lab-warm-{digest}.lock"


def warm(target: str) -> None:
    """Run the small world of each mode through the compiled kernels of ``target``."""
    if target not in TARGETS:
        raise ValueError(f"target must be one of {', '.join(TARGETS)}, not {target!r}")
    from engage_lab import tiers
    from engage_lab.config.packaged import packaged
    from engage_lab.lab import open as open_lab
    from engage_lab.world import generate_world

    with tempfile.TemporaryDirectory(prefix="engage_lab-warm-") as tmp:
        for mode in ("live_chat", "messaging"):
            folder = Path(tmp) / mode
            with tiers.forced("compiled" if target == "world" else "interpreted"):
                generate_world(folder, 12, 1, mode, days=2, progress=False)
            lab = open_lab(Path(tmp) / f"{mode}.duckdb")
            try:
                lab.load(folder, progress=False)
                with tiers.forced("compiled"):
                    lab.replay(packaged(f"production-{mode.replace('_', '-')}"))
            finally:
                lab.close()


def main(argv: list[str]) -> int:
    target = argv[0] if argv else "replay"
    if hasattr(os, "nice"):
        os.nice(19)  # in the background: the interpreted run that started it goes first
    with open(lock_path(), "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return 0  # another warm-up of this cache is running
        warm(target)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
