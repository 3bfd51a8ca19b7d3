"""Databases for the replay tests: the hand-made sample, and the sample re-recorded.

``rerecorded_db``: the sample's files with ``chat_events.jsonl`` replaced by what the
reference Chat Manager records for the production live-chat configuration, so a faithful
replay of that configuration must match the recording exactly (fidelity 1.0).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

import engage_lab as el
from engage_lab.config import load_any
from engage_lab.reference import replay_reference

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample"
PRODUCTION = ROOT / "data" / "configs" / "production-live-chat.json"
VARIANT = ROOT / "data" / "configs" / "variant-live-chat-lower-threshold.json"


def _load(folder: Path, db: Path) -> Path:
    with el.open(db) as lab:
        lab.load(folder, progress=False)
    return db


@pytest.fixture(scope="session")
def sample_db(tmp_path_factory) -> Path:
    """The sample loaded into a database file (closed; open it or copy it)."""
    return _load(SAMPLE, tmp_path_factory.mktemp("sample") / "sample.duckdb")


@pytest.fixture(scope="session")
def rerecorded_db(sample_db, tmp_path_factory) -> Path:
    """A copy of the sample whose ``chat_events`` are what the reference records for the
    production configuration (written with SQL: times stay server times, page ends stay)."""
    target = tmp_path_factory.mktemp("rerecorded") / "rerecorded.duckdb"
    shutil.copy(sample_db, target)
    with el.open(target) as lab:
        events = replay_reference(lab.con, load_any(PRODUCTION))
        rows = pd.DataFrame(
            {
                "chat_event_id": [f"rr{i:05d}" for i in range(len(events))],
                "page_view_id": events["page_view_id"],
                "visitor_id": events["visitor_id"],
                "event_at": events["event_at"].dt.tz_localize(None),
                "event": events["event"],
                "trigger_id": events["trigger_id"],
                "trigger_continuation": events["stage"] == "continuation",
                "mode": events["mode"],
                "item_id": events["item_id"],
                "item_type": events["item_type"],
                "server_probability": events["server_probability"],
                "draw": events["draw"],
            }
        )
        cursor = lab.con.cursor()
        cursor.register("_rerecorded", rows)
        cursor.execute("delete from chat_events")
        cursor.execute("insert into chat_events by name select * from _rerecorded")
        cursor.close()
    return target


@pytest.fixture
def db_copy(sample_db, tmp_path) -> Path:
    """A private copy of the sample database (for the CLI, which opens it by path)."""
    target = tmp_path / "copy.duckdb"
    shutil.copy(sample_db, target)
    return target
