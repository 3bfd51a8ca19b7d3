"""The reference skips work that cannot change a result (``VisitorSession.shortcuts``);
the literal algorithm (``shortcuts = False``) must give the very same events, on
generated worlds, both replaying a history and stepped like the world generator."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from engage_lab.config import Config, ConfigHistory
from engage_lab.reference import NoEngagements, VisitorSession, replay_reference
from engage_lab.reference.plan import ConfigPlan
from tests.reference.generated import generator_run, world_history

CONFIGS = Path(__file__).resolve().parents[2] / "data" / "configs"

CASES = [
    ("live_chat", "production-live-chat"),
    ("live_chat", "variant-live-chat-reserve"),
    ("live_chat", "history-live-chat"),
    ("messaging", "production-messaging"),
    ("messaging", "variant-messaging-queuing"),
]


def _config(name: str) -> Config | ConfigHistory:
    path = CONFIGS / f"{name}.json"
    try:
        return Config.load(path)
    except Exception:
        return ConfigHistory.load(path)


def _both(run, monkeypatch: pytest.MonkeyPatch) -> tuple[pd.DataFrame, pd.DataFrame]:
    fast = run()
    with monkeypatch.context() as m:
        m.setattr(VisitorSession, "shortcuts", False)
        literal = run()
    return fast, literal


@pytest.mark.parametrize(("mode", "name"), CASES)
def test_shortcuts_never_change_replay(mode, name, monkeypatch):
    history, config = world_history(mode), _config(name)
    fast, literal = _both(
        lambda: replay_reference(history, config, engagements=NoEngagements()), monkeypatch
    )
    assert len(fast) > 100
    pd.testing.assert_frame_equal(fast, literal)


@pytest.mark.parametrize(("mode", "name"), [c for c in CASES if c[1] != "history-live-chat"])
def test_shortcuts_never_change_generator_runs(mode, name, monkeypatch):
    history, config = world_history(mode), _config(name)
    fast, literal = _both(lambda: generator_run(history, config), monkeypatch)
    assert (fast["event"] == "chat_engaged").sum() > 10  # offers answered, pool fed
    pd.testing.assert_frame_equal(fast, literal)


def test_shortcuts_are_exercised(monkeypatch):
    """The worlds above do have pages where the prefilter rules triggers out."""
    sizes: list[tuple[int, int]] = []
    possible = ConfigPlan.possible

    def counting(self, pages):
        out = possible(self, pages)
        sizes.append((len(out), len(self.triggers)))
        return out

    monkeypatch.setattr(ConfigPlan, "possible", counting)
    replay_reference(world_history("live_chat"), _config("production-live-chat"))
    assert any(n < total for n, total in sizes)
    assert any(n > 1 for n, _ in sizes)
