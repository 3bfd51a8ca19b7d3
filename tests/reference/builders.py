"""A tiny fixture builder: hand-built histories and configurations in a few lines.

Times are seconds after ``T0`` (Monday 2026-03-02 08:00:00 UTC); :func:`run` returns the
events as ``(seconds, event, trigger_id, item_id, mode)`` tuples so each test writes its
expected events out plainly.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from engage_lab.availability import AvailabilityState
from engage_lab.config import Config
from engage_lab.reference import History, StateAvailability, replay_reference

T0 = int(dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC).timestamp() * 1000)
HOUR = 3600.0


def at(seconds: float) -> int:
    """Epoch ms of ``T0 + seconds``."""
    return T0 + round(seconds * 1000)


def iso(seconds: float) -> str:
    """ISO 8601 text (UTC, milliseconds) of ``T0 + seconds``, as configuration histories
    write ``effective_at``."""
    instant = dt.datetime.fromtimestamp(at(seconds) / 1000, tz=dt.UTC)
    return instant.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class World:
    """Records of a small history, added with one call each."""

    def __init__(self, mode: str = "live_chat", seed: str = "test-seed") -> None:
        self.source = [{"source_id": "src", "mode": mode, "timezone": "UTC", "seed": seed}]
        self.tables: dict[str, list[dict[str, Any]]] = {
            name: []
            for name in (
                "source_status",
                "page_views",
                "var_changes",
                "identities",
                "threads",
                "chat_events",
                "agents",
                "presence",
                "conversations",
            )
        }

    def page(
        self,
        pid: str,
        start: float,
        end: float | None,
        *,
        visitor: str = "v1",
        path: str = "/",
        title: str | None = None,
        embedded: bool = False,
        page_change: bool = False,
        placeholders: tuple[str, ...] = (),
    ) -> str:
        self.tables["page_views"].append(
            {
                "page_view_id": pid,
                "visitor_id": visitor,
                "started_at": at(start),
                "ended_at": None if end is None else at(end),
                "url": "https://shop.example" + path,
                "path": path,
                "title": title or path,
                "embedded": embedded,
                "page_change": page_change,
                "placeholders": list(placeholders),
            }
        )
        return pid

    def var(self, pid: str, name: str, value: Any, when: float, vid: str | None = None) -> None:
        n = len(self.tables["var_changes"])
        self.tables["var_changes"].append(
            {
                "var_change_id": vid or f"vc{n:03d}",
                "page_view_id": pid,
                "name": name,
                "value": value,
                "changed_at": at(when),
            }
        )

    def identity(
        self, iid: str, when: float, *, visitor: str = "v1", uuid: str | None = None, signed=False
    ) -> None:
        self.tables["identities"].append(
            {
                "identity_id": iid,
                "visitor_id": visitor,
                "uuid": uuid,
                "signed": signed,
                "set_at": at(when),
            }
        )

    def thread(
        self,
        tid: str,
        iid: str,
        opened: float,
        locked: float | None = None,
        closed: float | None = None,
        initiated: bool = False,
    ) -> None:
        self.tables["threads"].append(
            {
                "thread_id": tid,
                "identity_id": iid,
                "opened_at": at(opened),
                "locked_at": None if locked is None else at(locked),
                "closed_at": None if closed is None else at(closed),
                "identity_initiated_thread": initiated,
            }
        )

    def recorded(self, pid: str, event: str, when: float, visitor: str = "v1") -> None:
        n = len(self.tables["chat_events"])
        self.tables["chat_events"].append(
            {
                "chat_event_id": f"ce{n:04d}",
                "page_view_id": pid,
                "visitor_id": visitor,
                "event_at": at(when),
                "event": event,
            }
        )

    def web_chat(
        self,
        cid: str,
        pid: str,
        queued: float,
        started: float | None,
        ended: float | None,
        outcome: str,
        visitor: str = "v1",
        agent: str | None = None,
    ) -> None:
        self.tables["conversations"].append(
            {
                "conversation_id": cid,
                "agent_id": agent,
                "channel": "web_chat",
                "visitor_id": visitor,
                "page_view_id": pid,
                "queued_at": at(queued),
                "started_at": None if started is None else at(started),
                "ended_at": None if ended is None else at(ended),
                "outcome": outcome,
            }
        )

    def status(self, when: float, status: str) -> None:
        n = len(self.tables["source_status"])
        self.tables["source_status"].append(
            {"source_status_id": f"st{n:02d}", "changed_at": at(when), "status": status}
        )

    def agent(self, aid: str, soft_limit: int, available_from: float = -HOUR) -> None:
        self.tables["agents"].append({"agent_id": aid, "soft_limit": soft_limit})
        n = len(self.tables["presence"])
        self.tables["presence"].append(
            {
                "presence_id": f"p{n:03d}",
                "agent_id": aid,
                "changed_at": at(available_from),
                "status": "available",
            }
        )

    def history(self) -> History:
        frames = {"source": pd.DataFrame(self.source)}
        for name, rows in self.tables.items():
            if rows:
                frames[name] = pd.DataFrame(rows)
        return History.from_frames(frames)


def trig(tid: str, *actions: dict[str, Any], criteria=(), **fields: Any) -> dict[str, Any]:
    """A trigger as JSON data (default action: show the chat minimized)."""
    return {
        "id": tid,
        "label": tid.upper(),
        "criteria": list(criteria),
        "actions": list(actions) or [chat()],
        **fields,
    }


def item(item_id: str) -> dict[str, Any]:
    return {"type": "show_item", "item": item_id}


def chat() -> dict[str, Any]:
    return {"type": "show_chat_minimized"}


def open_chat() -> dict[str, Any]:
    return {"type": "show_and_open_chat"}


def crit(criterion: str, operator: str, value: Any = None, when: str = "current") -> dict[str, Any]:
    out = {"criterion": criterion, "when": when, "operator": operator}
    if value is not None:
        out["value"] = value
    return out


def config(*triggers: dict[str, Any], mode: str = "live_chat", **source: Any) -> Config:
    """A configuration with a fixed catalog: buttons ``b1``, ``b2``, ``boff`` (online /
    offline), ``bfix`` (fixed); invitations ``i1``, ``ioff`` (online / offline); message
    ``m1``; custom variables ``custom_cart`` (number) and ``custom_plan`` (string)."""
    return Config.from_dict(config_data(*triggers, mode=mode, **source))


def config_data(*triggers: dict[str, Any], mode: str = "live_chat", **source: Any) -> dict:
    """The JSON data of :func:`config` (to extend before validating it)."""
    return {
        "schema_version": 1,
        "source": {"mode": mode, **source},
        "catalog": {
            "buttons": [
                {"id": "b1", "label": "B1"},
                {"id": "b2", "label": "B2"},
                {"id": "boff", "label": "Boff", "online_offline": True},
                {"id": "bfix", "label": "Bfix", "fixed": True},
            ],
            "invitations": [
                {"id": "i1", "label": "I1"},
                {"id": "ioff", "label": "Ioff", "online_offline": True},
            ],
            "messages": [{"id": "m1", "text": "Hello"}],
        },
        "custom_variables": {
            "custom_cart": {"type": "number"},
            "custom_plan": {"type": "string"},
        },
        "triggers": list(triggers),
    }


class FixedAvailability:
    """The server always answers ``p``."""

    def __init__(self, p: float) -> None:
        self.p = p

    def probability(self, t: int, trigger: Any, config: Any) -> float:
        return self.p


def constant_state(capacity: int, in_progress: int, waiting: int = 0) -> StateAvailability:
    return StateAvailability(lambda t: AvailabilityState(capacity, in_progress, waiting))


def replay(world: World, cfg: Any, **kwargs: Any) -> pd.DataFrame:
    kwargs.setdefault("availability", FixedAvailability(1.0))
    return replay_reference(world.history(), cfg, **kwargs)


def _null(v: Any) -> Any:
    return None if v is None or (isinstance(v, float) and v != v) else v


def rows(frame: pd.DataFrame, *columns: str) -> list[tuple[Any, ...]]:
    """``(seconds after T0, event, trigger_id, item_id, mode)`` per event (plus extra
    columns when named)."""
    out = []
    for r in frame.to_dict("records"):
        ms = int(r["event_at"].value // 1_000_000)
        base = (
            (ms - T0) / 1000,
            r["event"],
            _null(r["trigger_id"]),
            _null(r["item_id"]),
            _null(r["mode"]),
        )
        out.append(base + tuple(_null(r[c]) for c in columns))
    return out


def passes_shown(frame: pd.DataFrame, trigger_order: list[str]) -> list[int]:
    """The fixed-point passes a frame in canonical order shows: at one page view, instant
    and stage ``configured``, a trigger listed before the previous one starts a new pass
    (within a pass, triggers activate in list order). A canonical frame is unchanged by
    ``sort_events(frame, trigger_order, rounds=passes_shown(frame, trigger_order))``."""
    rank = {t: i for i, t in enumerate(trigger_order)}
    out, last_key, last_rank, current = [], None, -1, 0
    columns = ("page_view_id", "event_at", "stage", "trigger_id")
    for pid, t, stage, trigger in zip(*(frame[c] for c in columns), strict=True):
        if stage != "configured" or not isinstance(trigger, str):
            out.append(0)
            continue
        r = rank.get(trigger, len(rank))
        if (pid, t) != last_key:
            current = 0
        elif r < last_rank:
            current += 1
        out.append(current)
        last_key, last_rank = (pid, t), r
    return out


def run(world: World, cfg: Any, *columns: str, **kwargs: Any) -> list[tuple[Any, ...]]:
    """Replay and return :func:`rows`."""
    return rows(replay(world, cfg, **kwargs), *columns)
