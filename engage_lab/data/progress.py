"""A progress bar on stderr for loads that take more than a moment.

The bar appears only after ``delay`` seconds (short loads print nothing) and only when
stderr is a terminal, or when ``force`` is set; it disappears when the work is done.
Step descriptions name input files: they are shown through
:func:`engage_lab.display.visible` and never read as rich markup.
"""

from __future__ import annotations

import sys
import threading
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from engage_lab.display import visible

__all__ = ["StepProgress"]


class StepProgress:
    """Counts steps of a long job; shows a bar after a delay.

    >>> with StepProgress(total=2, enabled=False) as bar:
    ...     bar.step("reading")
    ...     bar.step("checking")
    >>> bar.done
    2
    """

    def __init__(
        self, total: int, *, enabled: bool | None = None, delay: float = 0.7, force: bool = False
    ) -> None:
        if enabled is None:
            enabled = force or sys.stderr.isatty()
        self.enabled = enabled
        self.total = total
        self.done = 0
        self._progress: Progress | None = None
        self._task = None
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()
        self._description = "loading"
        self._delay = delay
        self.shown = False

    def __enter__(self) -> StepProgress:
        if self.enabled:
            self._timer = threading.Timer(self._delay, self._show)
            self._timer.daemon = True
            self._timer.start()
        return self

    def _show(self) -> None:
        with self._lock:
            if self._progress is not None or self._timer is None:
                return
            self._progress = Progress(
                # descriptions name input files: shown, never read as markup
                TextColumn("{task.description}", style="bold", markup=False),
                BarColumn(),
                TextColumn("{task.completed}/{task.total}"),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self._task = self._progress.add_task(
                self._description, total=self.total, completed=self.done
            )
            self._progress.start()
            self.shown = True

    def step(self, description: str) -> None:
        """Mark the previous step done and name the next one."""
        description = visible(description)
        with self._lock:
            self.done = min(self.done + 1, self.total)
            self._description = description
            if self._progress is not None:
                self._progress.update(self._task, completed=self.done, description=description)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            if self._progress is not None:
                self._progress.stop()
                self._progress = None
