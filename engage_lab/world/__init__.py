"""The world generator: a realistic recorded history of a shop with a proactive web chat.

``generate_world(out, visitors, seed)`` draws visitors, visits, page views, custom
variables, identities, threads (messaging), agents with shifts and background
conversations, a maintenance window and the hidden ground truth, and writes them as JSON
Lines (``*.jsonl``, one file per table) at the top of ``out`` with the truth under
``out/truth/``. Same arguments, same bytes. Parameters live in ``WorldParams``; each
concept module documents its distributions (``site``, ``traffic``, ``visitors``,
``pages``, ``variables``, ``agents``, ``truth``).

Recorded chat events come from the chat-event step: the reference Chat Manager run over
this world with a live agent pool and the hidden behaviour (``world.recording``), the
default ``chat_recorder``. With ``chat_recorder=None`` no chat events are recorded;
``WorldSummary.chat_events_recorded`` is then False and ``WorldSummary.chat_events_note``
says why.

>>> import tempfile
>>> with tempfile.TemporaryDirectory() as out:
...     summary = generate_world(out, visitors=30, seed=7, days=3, progress=False)
>>> summary.page_views > summary.visits >= 30, summary.chat_events_recorded
(True, True)
"""

from __future__ import annotations

import hashlib
import sys
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Literal

from engage_lab import tiers
from engage_lab.data.validate import PLAUSIBLE
from engage_lab.engine.compiling import announcing
from engage_lab.errors import ConfigError, EngageLabError
from engage_lab.world.chat import (
    CHAT_STEP_NOT_BUILT,
    ChatRecorder,
    ChatRecording,
    WorldView,
    default_chat_recorder,
    reference_chat_recorder,
)
from engage_lab.world.model import MODES, World, draw_world
from engage_lab.world.output import ID_FORMS, id_prefix, world_view, write_truth, write_world
from engage_lab.world.params import WorldParams
from engage_lab.world.truth import EngagementTruth, engagement_probability

__all__ = [
    "ID_FORMS",
    "ChatRecorder",
    "ChatRecording",
    "EngagementTruth",
    "World",
    "WorldError",
    "WorldParams",
    "WorldSummary",
    "WorldView",
    "default_chat_recorder",
    "draw_world",
    "engagement_probability",
    "generate_world",
    "id_prefix",
    "reference_chat_recorder",
]


class WorldError(EngageLabError):
    """Arguments the generator cannot work with (a subclass of ``EngageLabError``)."""


@dataclass(frozen=True)
class WorldSummary:
    """What a generation produced."""

    out: str
    seed: int
    mode: str
    days: int
    visitors: int
    visits: int
    page_views: int
    records: dict[str, int]
    elapsed_s: float
    chat_events_recorded: bool
    chat_events_note: str
    config: str | None = None
    config_history: str | None = None
    agents: int = 0
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def page_views_per_s(self) -> float:
        return self.page_views / self.elapsed_s if self.elapsed_s > 0 else float("inf")

    def to_dict(self) -> dict[str, object]:
        """JSON-ready summary (with ``page_views_per_s``)."""
        return {
            "out": self.out,
            "seed": self.seed,
            "mode": self.mode,
            "days": self.days,
            "visitors": self.visitors,
            "visits": self.visits,
            "page_views": self.page_views,
            "agents": self.agents,
            "records": dict(self.records),
            "elapsed_s": round(self.elapsed_s, 3),
            "page_views_per_s": round(self.page_views_per_s, 1),
            "chat_events_recorded": self.chat_events_recorded,
            "chat_events_note": self.chat_events_note,
            "config": self.config,
            "config_history": self.config_history,
        }


def _config_facts(path: str | Path | None, what: str, mode: str) -> dict[str, object]:
    """Validate a configuration (or history) of the world's mode; its path and digest.

    ``None`` stands for the packaged production configuration of the mode (``config``) or
    no history. Invalid files raise ``ConfigError`` naming the file and every problem.
    """
    from engage_lab.config import Config, ConfigHistory, packaged_text

    if path is None:
        if what != "config":
            return {"path": None}
        name = "production-" + mode.replace("_", "-")
        text = packaged_text(name).encode("utf-8")
        return {"path": f"packaged:{name}", "sha256": hashlib.sha256(text).hexdigest()}
    p = Path(path)
    loaded = Config.load(p) if what == "config" else ConfigHistory.load(p)
    if loaded.mode != mode:
        raise ConfigError(
            [
                f"source.mode: {p} is a {loaded.mode} {what.replace('_', ' ')}, the world is "
                f"generated in {mode} mode"
            ]
        )
    return {"path": str(p), "sha256": hashlib.sha256(p.read_bytes()).hexdigest()}


class _Progress:
    """A rich progress bar on stderr (or nothing)."""

    def __init__(self, enabled: bool, total_stages: int) -> None:
        self.bar = None
        if enabled:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(
                TextColumn("[bold]{task.description:<28}"),
                BarColumn(),
                TextColumn("{task.completed:>12,.0f}/{task.total:,.0f}"),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=False,
            )
            self.stages = self.bar.add_task("drawing", total=total_stages)
            self.rows = None

    def __enter__(self) -> _Progress:
        if self.bar is not None:
            self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()

    def stage(self, name: str) -> None:
        if self.bar is not None:
            self.bar.update(self.stages, description=f"drawing {name}", advance=1)

    def writing(self, total_rows: int) -> None:
        if self.bar is not None:
            self.bar.update(self.stages, description="drawn", completed=self.bar.tasks[0].total)
            self.rows = self.bar.add_task("writing records", total=total_rows)

    def advance(self, n: int) -> None:
        if self.bar is not None and self.rows is not None:
            self.bar.update(self.rows, advance=n)


def generate_world(
    out: str | Path,
    visitors: int,
    seed: int,
    mode: str = "live_chat",
    days: int = 28,
    *,
    config: str | Path | None = None,
    config_history: str | Path | None = None,
    params: WorldParams | None = None,
    chat_recorder: ChatRecorder | Literal["default", "reference"] | None = "default",
    progress: bool = True,
) -> WorldSummary:
    """Generate a world into folder ``out`` and return its summary.

    Parameters
    ----------
    out : folder to write (created; existing ``*.jsonl`` files of the same names are
        overwritten).
    visitors : number of visitors (browsers), at least 1.
    seed : non-negative integer; prefixes every id (``s{seed}-...``) and seeds every draw.
    mode : ``live_chat`` or ``messaging`` (threads and the embedded container exist only
        in messaging mode).
    days : length of the span in local days of the source zone, from a fixed Monday.
    config, config_history : configuration files for the chat-event step; checked to be
        readable JSON (of the right mode) and recorded in ``truth/params.json``.
    params : the generator's parameters (defaults: ``WorldParams()``).
    chat_recorder : the chat-event step (see ``engage_lab.world.chat``); ``"default"``:
        ``default_chat_recorder()`` (the compiled recording of the reference Chat
        Manager); ``"reference"``: the Python reference itself; None: no chat events are
        recorded and the
        summary says so.
    progress : show a progress bar on stderr.
    """
    if not isinstance(visitors, int) or visitors < 1:
        raise WorldError(f"visitors must be a positive integer, not {visitors!r}")
    if not isinstance(seed, int) or seed < 0:
        raise WorldError(f"seed must be a non-negative integer, not {seed!r}")
    if not isinstance(days, int) or days < 1:
        raise WorldError(f"days must be a positive integer, not {days!r}")
    # the span must end where a load still accepts instants (a day's margin for the zone)
    first = date.fromisoformat((params or WorldParams()).start_date)
    most = (date.fromisoformat(PLAUSIBLE[1]) - first).days - 1
    if days > most:
        raise WorldError(
            f"days must be at most {most:,} (a load accepts instants before {PLAUSIBLE[1]}), "
            f"not {days:,}"
        )
    if mode not in MODES:
        raise WorldError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    config_facts = _config_facts(config, "config", mode)
    history_facts = _config_facts(config_history, "config_history", mode)
    out_dir = Path(out)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WorldError(f"cannot create {out_dir}: {exc.strerror}") from exc

    if chat_recorder == "default":
        chat_recorder = default_chat_recorder()
    elif chat_recorder == "reference":
        chat_recorder = reference_chat_recorder()
    began = time.perf_counter()
    with (
        announcing("world generator's kernels", 90),
        _Progress(progress and sys.stderr is not None, total_stages=6) as bar,
    ):
        world = draw_world(seed, visitors, mode, days, params, stage=bar.stage)
        recording = None
        if chat_recorder is not None:
            bar.stage("chat events")
            # a small world runs the kernels' Python source when they are not compiled yet
            with tiers.running(world.page_views, "world"):
                recording = chat_recorder(
                    world_view(world, Path(config) if config else None,
                               Path(config_history) if config_history else None)
                )  # fmt: skip
        note = "chat events recorded by the chat-event step" if recording else CHAT_STEP_NOT_BUILT
        bar.writing(
            4
            + len(world.active_visitors)
            + world.page_views
            + len(world.var_changes)
            + len(world.identities)
            + len(world.threads)
            + world.agents.n
            + len(world.agents.presence_ms)
            + len(world.agents.conv_agent)
        )
        records = write_world(world, out_dir, recording, bar.advance)
        run = {
            "seed": seed,
            "mode": mode,
            "days": days,
            "visitors": visitors,
            "span_start": world.span.start_iso,
            "maintenance_window_ms": list(world.maintenance_ms),
            "agents": world.agents.n,
            "chat_events_recorded": recording is not None,
            "chat_events_note": note,
            "config": config_facts,
            "config_history": history_facts,
        }
        write_truth(world, out_dir, run)
    return WorldSummary(
        out=str(out_dir),
        seed=seed,
        mode=mode,
        days=days,
        visitors=visitors,
        visits=world.visits,
        page_views=world.page_views,
        records=records,
        elapsed_s=time.perf_counter() - began,
        chat_events_recorded=recording is not None,
        chat_events_note=note,
        config=str(config) if config else None,
        config_history=str(config_history) if config_history else None,
        agents=world.agents.n,
    )
