"""Differential-test support: load a builders.World into DuckDB, run both engines, compare."""

from __future__ import annotations

import json
import pathlib
import tempfile
from typing import Any

import pandas as pd

import engage_lab as el
from engage_lab.engine import replay_fast
from engage_lab.reference import replay_reference
from tests.reference.builders import World

_RECORD_TYPE = {
    "source": "source",
    "source_status": "source_status",
    "page_views": "page_view",
    "var_changes": "var_change",
    "identities": "identity",
    "threads": "thread",
    "chat_events": "chat_event",
    "agents": "agent",
    "presence": "presence",
    "conversations": "conversation",
}
_ID_COLUMN = {
    "source": "source_id",
    "source_status": "source_status_id",
    "page_views": "page_view_id",
    "var_changes": "var_change_id",
    "identities": "identity_id",
    "threads": "thread_id",
    "chat_events": "chat_event_id",
    "agents": "agent_id",
    "presence": "presence_id",
    "conversations": "conversation_id",
}


def world_lines(world: World) -> list[str]:
    """The world's records as JSON Lines (epoch-ms timestamps)."""
    lines = []
    tables = {"source": world.source, **world.tables}
    for name, rows in tables.items():
        for row in rows:
            record = {"type": _RECORD_TYPE[name]}
            for key, value in row.items():
                if key == _ID_COLUMN[name]:
                    record["id"] = value
                elif value is not None:
                    record[key] = value
            lines.append(json.dumps(record))
    return lines


def load_world(world: World, folder: pathlib.Path | None = None) -> el.Lab:
    """A fresh in-file database holding the world (through the real loader)."""
    folder = pathlib.Path(tempfile.mkdtemp()) if folder is None else folder
    (folder / "data").mkdir(exist_ok=True)
    (folder / "data" / "world.jsonl").write_text("\n".join(world_lines(world)) + "\n")
    lab = el.open(folder / "engage.duckdb")
    lab.load(str(folder / "data"))
    return lab


def both(lab: el.Lab, cfg: Any, **kwargs: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(fast, reference)`` events on the same database."""
    fast = replay_fast(lab, cfg, **kwargs)
    ref_kwargs = dict(kwargs)
    if "sample" in ref_kwargs:
        ref_kwargs["visitors"] = ref_kwargs.pop("sample")
    reference = replay_reference(lab.con, cfg, **ref_kwargs)
    return fast, reference


def assert_same(fast: pd.DataFrame, reference: pd.DataFrame) -> None:
    """Identical frames: every column, every row, to the millisecond."""
    pd.testing.assert_frame_equal(fast, reference, check_exact=True)


def check_world(world: World, cfg: Any, **kwargs: Any) -> pd.DataFrame:
    """Load, replay with both engines, assert identical; return the events."""
    lab = load_world(world)
    try:
        fast, reference = both(lab, cfg, **kwargs)
    finally:
        lab.close()
    assert_same(fast, reference)
    return fast


def memory_db(world: World):
    """An in-memory database with the world's tables, without the loader (fast, for
    property tests): visits derived as the reference derives them, 24 h idle."""
    import duckdb

    from engage_lab.data import database, schema

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    database.create_tables(con)
    database.set_meta(con, "visit_idle_ms", str(schema.DEFAULT_VISIT_IDLE_MS))
    history = world.history()
    visit_of = {p.page_view_id: p.visit_id for v in history.visitors.values() for p in v.page_views}
    tables = {"source": world.source, **world.tables}
    for name, rows in tables.items():
        if not rows:
            continue
        frame = pd.DataFrame(rows)
        for column in frame.columns:
            if column.endswith("_at"):
                frame[column] = pd.to_datetime(frame[column], unit="ms")
        if name == "page_views":
            frame["visit_id"] = frame["page_view_id"].map(visit_of)
            frame["end_recorded"] = True
        if name == "var_changes":
            # from the rows: a frame column turns JSON null into NaN among numbers
            frame["value"] = [json.dumps(r["value"]) for r in rows]
        con.register("_frame", frame)
        con.execute(f'INSERT INTO "{name}" BY NAME SELECT * FROM _frame')  # test helper, own names
        con.unregister("_frame")
    return con


def replayed_both(world: World, cfg: Any, **kwargs: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(fast, reference)`` events of ``cfg`` over the world in a :func:`memory_db`
    (``kwargs``, such as ``time_range``, passed to both engines)."""
    con = memory_db(world)
    try:
        return replay_fast(con, cfg, **kwargs), replay_reference(con, cfg, **kwargs)
    finally:
        con.close()
