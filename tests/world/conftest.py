"""Small generated worlds shared by the world tests (generated once per session)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from engage_lab.world import generate_world

# ENGAGE_WORLD_TEST_SEED runs the same checks on other worlds (realism across seeds).
SEED = int(os.environ.get("ENGAGE_WORLD_TEST_SEED", "11"))
LIVE = {"visitors": 400, "seed": SEED, "days": 7}
MESSAGING = {"visitors": 300, "seed": SEED + 1, "days": 5, "mode": "messaging"}


def read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


class Generated:
    """A generated world folder with its records by file stem (``page_views``, ...)."""

    def __init__(self, out: Path, summary) -> None:
        self.out = out
        self.summary = summary
        self.tables = {p.stem: read_jsonl(p) for p in sorted(out.glob("*.jsonl"))}
        self.truth_visits = read_jsonl(out / "truth" / "visits.jsonl")
        self.truth_visitors = read_jsonl(out / "truth" / "visitors.jsonl")
        self.params = json.loads((out / "truth" / "params.json").read_text(encoding="utf-8"))

    def __getitem__(self, table: str) -> list[dict]:
        return self.tables.get(table, [])


@pytest.fixture(scope="session")
def live_world(tmp_path_factory) -> Generated:
    out = tmp_path_factory.mktemp("live")
    return Generated(out, generate_world(out, progress=False, **LIVE))


@pytest.fixture(scope="session")
def messaging_world(tmp_path_factory) -> Generated:
    out = tmp_path_factory.mktemp("messaging")
    return Generated(out, generate_world(out, progress=False, **MESSAGING))
