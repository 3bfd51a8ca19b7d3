"""Databases for the replay tests: the live-chat sample (a world recorded by the reference
Chat Manager with the production configuration, so a faithful replay has fidelity 1.0), and
a copy of it with one recorded decision event moved by a millisecond."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import engage_lab as el
from engage_lab.draws import in_sample

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
def perturbed_db(sample_db, tmp_path_factory) -> tuple[Path, dict]:
    """A copy of the sample with one recorded ``item_shown`` moved by 1 ms (of a visitor in
    the 30 % sample of the source seed); returns the file and the moved event."""
    target = tmp_path_factory.mktemp("perturbed") / "perturbed.duckdb"
    shutil.copy(sample_db, target)
    with el.open(target) as lab:
        seed = str(lab.sql("select seed from source")["seed"][0])
        shown = lab.sql(
            "select chat_event_id, page_view_id, visitor_id from chat_events "
            "where event = 'item_shown' order by chat_event_id"
        )
        chosen = shown[[in_sample(v, 0.3, seed) for v in shown["visitor_id"]]].iloc[0]
        cursor = lab.con.cursor()
        cursor.execute(
            "update chat_events set event_at = event_at + interval 1 millisecond "
            "where chat_event_id = ?",
            [chosen["chat_event_id"]],
        )
        cursor.close()
    return target, chosen.to_dict()


@pytest.fixture
def db_copy(sample_db, tmp_path) -> Path:
    """A private copy of the sample database (for the CLI, which opens it by path)."""
    target = tmp_path / "copy.duckdb"
    shutil.copy(sample_db, target)
    return target
