"""Write the hand-made live-chat sample in ``data/sample/`` (deterministic, same bytes each run).

The sample is small (about 40 visitors over three days, four agents) but exercises every
record type and field of ``engage_lab.data.schema``: a maintenance window, a visitor with
a clock offset, returning visitors, single-page page changes, fixed-button placeholders,
pages whose end was not recorded, custom variables changing mid-page, identities and
threads, the whole chat event vocabulary (gated triggers with the server's answer and the
draw, continuation, offline mode), agents' shifts with breaks and conversations on web
chat and other channels. Timestamps come in the three accepted forms: ISO 8601 in UTC
(most files), ISO 8601 with an offset (``source_status.jsonl``, +01:00) and epoch
milliseconds (``presence.jsonl``). A generated world replaces it in a later issue.

Every random choice is a hash of its key (md5, like the gating draw), never a global
random state, so the output is byte-for-byte reproducible::

    .venv/bin/python tools/make_sample.py            # writes data/sample/*.jsonl
    .venv/bin/python tools/make_sample.py --out DIR  # elsewhere (the tests compare bytes)
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SEED = "sample-1"
HOST = "https://shop.example"
DAY0_MS = 1772409600000  # 2026-03-02T00:00:00Z, a Monday
HOUR = 3_600_000
MINUTE = 60_000
SECOND = 1_000
DAY = 24 * HOUR
N_VISITORS = 40
CLOCK_OFFSET_VISITOR = "v07"
CLOCK_OFFSET_MS = 95_000  # that browser's clock runs 95 s ahead of the server
MAINTENANCE = (DAY0_MS + 2 * DAY + 2 * HOUR, DAY0_MS + 2 * DAY + 3 * HOUR)
PARTIAL_FIXED_BUTTON_PATH = "/help/payment"  # a page whose template lacks the placeholder
IMPOSSIBILITY_DELAY_MS = 8 * MINUTE
SCRIPT_BLOCKED_VISITORS = ("v13",)  # an ad-blocker: pages without any chat event
SHOWN_FRESH = {"event": "chat_shown", "trigger_continuation": False}

TITLES = {
    "/": "Shop Example - Home",
    "/category/shoes": "Shoes",
    "/category/bags": "Bags",
    "/category/watches": "Watches",
    "/product/trail-runner": "Trail Runner 42",
    "/product/city-sneaker": "City Sneaker",
    "/product/leather-tote": "Leather Tote",
    "/product/canvas-backpack": "Canvas Backpack",
    "/product/steel-chrono": "Steel Chrono",
    "/product/pocket-watch": "Pocket Watch",
    "/cart": "Your cart",
    "/checkout": "Checkout",
    "/checkout/payment": "Payment",
    "/help": "Help centre",
    "/help/returns": "Help - Returns",
    "/help/shipping": "Help - Shipping",
    "/help/payment": "Help - Payment",
    "/pricing": "Pricing - Membership plans",
    "/account": "Your account",
}
PRODUCTS = {
    "shoes": ["/product/trail-runner", "/product/city-sneaker"],
    "bags": ["/product/leather-tote", "/product/canvas-backpack"],
    "watches": ["/product/steel-chrono", "/product/pocket-watch"],
}
PRICES = {
    "/product/trail-runner": 89.9,
    "/product/city-sneaker": 59.0,
    "/product/leather-tote": 129.5,
    "/product/canvas-backpack": 45.0,
    "/product/steel-chrono": 249.0,
    "/product/pocket-watch": 35.5,
}
TRIGGERS = {
    "t-fixed-button": "Help button",
    "t-cart-invite": "Cart invitation",
    "t-funnel-exit": "Checkout help",
    "t-popup": "Product popup",
    "t-pricing-help": "Pricing help",
}
ITEMS = {
    "btn-fixed-help": "Need help?",
    "btn-chat": "Chat with us",
    "inv-cart": "Questions about your order?",
    "inv-popup": "Can we help you choose?",
}
REFERRERS = [None, "https://www.google.com/", "https://news.example/deals", None]
AGENTS = [  # id, name, soft limit, shifts as (start h, end h, break start h, break end h) UTC
    ("a1", "Ana", 3, (7.0, 15.0, 11.0, 11.5)),
    ("a2", "Bruno", 2, (8.0, 16.0, 12.0, 12.75)),
    ("a3", "Chloé", 4, (12.0, 20.0, 15.5, 16.0)),
    ("a4", "Dmitri", 2, (9.0, 13.0, None, None)),
]


def draw(*key: object) -> float:
    """A uniform number in [0, 1) from the md5 of the key (the gating draw's recipe)."""
    digest = hashlib.md5("|".join(str(k) for k in key).encode()).hexdigest()
    return int(digest[:13], 16) / 2**52


def pick(options: list, *key: object):
    return options[int(draw(*key) * len(options))]


def between(low: int, high: int, *key: object) -> int:
    return low + int(draw(*key) * (high - low + 1))


def iso(ms: int) -> str:
    """ISO 8601 in UTC with milliseconds, e.g. ``2026-03-02T09:15:00.250Z``."""
    stamp = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def iso_paris(ms: int) -> str:
    """ISO 8601 with the Paris offset of March 2026 (+01:00): a second accepted form."""
    stamp = datetime.fromtimestamp(ms / 1000 + 3600, tz=UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}+01:00"


@dataclass
class Page:
    page_view_id: str
    visitor_id: str
    path: str
    start: int
    end: int
    end_recorded: bool = True
    page_change: bool = False
    query: str = ""
    referrer: str | None = None
    events: list[tuple[int, dict]] = field(default_factory=list)
    vars: list[tuple[int, str, object]] = field(default_factory=list)


class Sample:
    """Builds the records; ``files()`` returns them as JSON Lines text per table."""

    def __init__(self) -> None:
        self.records: dict[str, list[tuple[int, dict]]] = {}
        self.presence: dict[str, list[tuple[int, str]]] = {a[0]: [] for a in AGENTS}
        self.pages: list[Page] = []
        self.counters: dict[str, int] = {}
        self.agent_turn = 0
        self.engagements = 0
        self.engaged: dict[str, tuple[int, int]] = {}  # visitor -> (engaged, chat closed)

    def next_id(self, prefix: str, width: int = 4) -> str:
        self.counters[prefix] = self.counters.get(prefix, 0) + 1
        return f"{prefix}{self.counters[prefix]:0{width}d}"

    def add(self, table: str, at_ms: int, record: dict) -> None:
        self.records.setdefault(table, []).append((at_ms, record))

    # -- source, agents ---------------------------------------------------------------
    def build_source(self) -> None:
        self.add(
            "source",
            0,
            {"type": "source", "id": "src-sample", "mode": "live_chat",
             "timezone": "Europe/Paris", "seed": SEED},
        )  # fmt: skip
        for at_ms, status in [
            (DAY0_MS, "active"),
            (MAINTENANCE[0], "maintenance"),
            (MAINTENANCE[1], "active"),
        ]:
            self.add(
                "source_status",
                at_ms,
                {"type": "source_status", "id": self.next_id("st", 2),
                 "changed_at": iso_paris(at_ms), "status": status},
            )  # fmt: skip

    def build_agents(self) -> None:
        for agent_id, name, soft_limit, (start, end, pause, resume) in AGENTS:
            self.add(
                "agents",
                0,
                {"type": "agent", "id": agent_id, "name": name, "soft_limit": soft_limit},
            )
            for day in range(3):
                if agent_id == "a4" and day == 0:
                    continue  # Dmitri works from Tuesday on
                base = DAY0_MS + day * DAY
                changes = [(start, "available"), (end, "offline")]
                if pause is not None:
                    changes += [(pause, "away"), (resume, "available")]
                for hours, status in sorted(changes):
                    at_ms = base + int(hours * HOUR) + between(0, 90, agent_id, day, hours) * SECOND
                    self.presence[agent_id].append((at_ms, status))
                    self.add(
                        "presence",
                        at_ms,
                        {"type": "presence", "id": self.next_id("p", 3), "agent_id": agent_id,
                         "changed_at": at_ms, "status": status},
                    )  # fmt: skip

    def available_agents(self, at_ms: int) -> list[str]:
        if MAINTENANCE[0] <= at_ms < MAINTENANCE[1]:
            return []
        out = []
        for agent_id, changes in self.presence.items():
            status = "offline"
            for changed, new_status in changes:
                if changed <= at_ms:
                    status = new_status
            if status == "available":
                out.append(agent_id)
        return out

    def build_background_load(self) -> None:
        """Email and phone conversations while agents are available: load, not web chat."""
        for agent_id, changes in self.presence.items():
            for (start, status), (end, _) in itertools.pairwise(changes):
                if status != "available":
                    continue
                t = start + between(5, 25, agent_id, start, "first") * MINUTE
                while True:
                    channel = "phone" if draw(agent_id, t, "channel") < 0.4 else "email"
                    length = between(4, 18, agent_id, t, "length") * MINUTE
                    if t + length > end:
                        break
                    queued = t - between(0, 120, agent_id, t, "queue") * SECOND
                    self.add(
                        "conversations",
                        queued,
                        {"type": "conversation", "id": self.next_id("c", 3),
                         "agent_id": agent_id, "channel": channel, "queued_at": iso(queued),
                         "started_at": iso(t), "ended_at": iso(t + length)},
                    )  # fmt: skip
                    t += length + between(10, 50, agent_id, t, "gap") * MINUTE

    # -- visitors and their pages -----------------------------------------------------
    def journey(self, visitor: str, visit: int) -> list[str]:
        intent = draw(visitor, visit, "intent") if visitor not in SCRIPT_BLOCKED_VISITORS else 0
        category = pick(list(PRODUCTS), visitor, visit, "category")
        product = pick(PRODUCTS[category], visitor, visit, "product")
        other = pick(PRODUCTS[category], visitor, visit, "other")
        entry = ["/"] if draw(visitor, visit, "entry") < 0.6 else []
        if intent < 0.35:
            return [*entry, f"/category/{category}", product, other]
        if intent < 0.65:
            return [*entry, product, "/cart", "/checkout", "/checkout/payment"]
        if intent < 0.85:
            topic = pick(["returns", "shipping", "payment"], visitor, visit, "topic")
            return ["/help", f"/help/{topic}"]
        return [*entry, "/pricing", "/account"]

    def build_visits(self) -> None:
        for number in range(1, N_VISITORS + 1):
            visitor = f"v{number:02d}"
            record = {"type": "visitor", "id": visitor}
            if visitor == CLOCK_OFFSET_VISITOR:
                record["clock_offset_ms"] = CLOCK_OFFSET_MS
            elif number % 5 == 0:
                record["clock_offset_ms"] = 0
            if number % 7 != 3:
                record["country"] = pick(["FR", "FR", "BE", "CH", "DE", "ES"], visitor, "c")
            self.add("visitors", 0, record)
            starts = self.visit_starts(number, visitor)
            for visit, start in enumerate(starts):
                self.build_visit(visitor, visit, start)

    def visit_starts(self, number: int, visitor: str) -> list[int]:
        day = number % 3
        # Paris daytime is 08:00-22:00 UTC+1; some visits fall when no agent works.
        hour = 6 + int(draw(visitor, "hour") ** 0.8 * 15)
        start = DAY0_MS + day * DAY + hour * HOUR + between(0, 3599, visitor, "s") * SECOND
        starts = [start]
        if number in (1, 2, 11) and day < 2:
            starts.append(start + DAY + between(2, 6, visitor, "back") * HOUR)  # gap > 24 h
        if number == 5:
            starts.append(start - 4 * HOUR)  # same visit: the gap is under 24 h
        return [s if not MAINTENANCE[0] <= s < MAINTENANCE[1] + HOUR else s + 2 * HOUR
                for s in starts]  # fmt: skip

    def build_visit(self, visitor: str, visit: int, start: int) -> None:
        paths = self.journey(visitor, visit)
        t = start
        referrer = pick(REFERRERS, visitor, visit, "ref")
        pages: list[Page] = []
        for step, path in enumerate(paths):
            dwell = between(12, 150, visitor, visit, step, "dwell") * SECOND
            dwell += between(0, 999, visitor, visit, step, "ms")
            page = Page(self.next_id("pv"), visitor, path, t, t + dwell, referrer=referrer)
            page.page_change = path == "/checkout/payment"  # the checkout is a one-page app
            if step == 0 and draw(visitor, visit, "utm") < 0.3:
                page.query = "?utm_source=newsletter"
            pages.append(page)
            referrer = HOST + path
            t = page.end + between(1, 8, visitor, visit, step, "gap") * SECOND
        if draw(visitor, visit, "unended") < 0.3 or visitor in SCRIPT_BLOCKED_VISITORS:
            pages[-1].end_recorded = False  # the visitor closed the tab
        self.pages += pages
        for page in pages:
            self.build_page(page)

    def build_page(self, page: Page) -> None:
        self.fill_variables(page)
        if page.visitor_id in SCRIPT_BLOCKED_VISITORS:
            return  # the Chat Manager never loaded: no chat events on these pages
        page.events.append((page.start + 150, {"event": "started"}))
        dwell = page.end - page.start
        if page.path.startswith("/help") or page.path in ("/pricing", "/account"):
            self.trigger(page, "t-fixed-button", page.start + 1000,
                         item=("btn-fixed-help", "button"),
                         placeholder=page.path != PARTIAL_FIXED_BUTTON_PATH)  # fmt: skip
        if page.path == "/pricing" and dwell > 30 * SECOND:
            self.trigger(page, "t-pricing-help", page.start + 30 * SECOND,
                         item=("btn-chat", "button"))  # fmt: skip
        if page.path.startswith("/product/") and dwell > 45 * SECOND:
            self.trigger(page, "t-popup", page.start + 45 * SECOND,
                         item=("inv-popup", "invitation"))  # fmt: skip
        if page.path == "/cart" and dwell > 20 * SECOND:
            self.trigger(page, "t-cart-invite", page.start + 20 * SECOND,
                         item=("inv-cart", "invitation"), gated=True)  # fmt: skip
        if page.path == "/checkout/payment" and dwell > 60 * SECOND:
            self.trigger(page, "t-funnel-exit", page.start + 60 * SECOND, gated=True)

    def trigger(
        self,
        page: Page,
        trigger_id: str,
        at_ms: int,
        item: tuple[str, str] | None = None,
        gated: bool = False,
        placeholder: bool = True,
    ) -> None:
        engaged = self.engaged.get(page.visitor_id)
        if engaged is not None and engaged[0] <= at_ms and engaged[1] > page.start:
            return  # an engaged visitor: no trigger activates until the chat has ended
        mode = "online" if self.available_agents(at_ms) else "offline"
        base = trigger_keys(trigger_id)
        executes = True
        answer = {}
        if gated:  # the server's answer and the client's draw (optional extension keys)
            probability = 1.0 if mode == "online" else 0.0
            u = draw(SEED, page.visitor_id, page.page_view_id, trigger_id)
            executes = u < probability
            answer = {"server_probability": probability, "draw": u}
        activated = {**base, "event": "trigger_activated", "mode": mode, **answer}
        page.events.append((at_ms, activated))
        if not placeholder:
            return  # a fixed button whose placeholder is missing: activated, not executed
        if executes:
            executed = {**base, "event": "trigger_executed", "mode": mode, **answer}
            page.events.append((at_ms + 5, executed))
        if item is None:
            if executes:
                page.events.append((at_ms + 40, {**base, **SHOWN_FRESH}))
                self.maybe_engage(page, trigger_id, at_ms + 40)
            return
        item_id, item_type = item
        shown = {**base, "mode": mode, "item_id": item_id, "item_type": item_type,
                 "item_label": ITEMS[item_id], "item_human_id": f"{ITEMS[item_id]} #{item_id}"}  # fmt: skip
        page.events.append((at_ms + 20, {**shown, "event": "item_shown"}))
        page.events.append((at_ms + 21, {**shown, "event": f"{item_type}_shown"}))
        if mode == "online":
            clicked = at_ms + between(3, 20, page.page_view_id, trigger_id, "click") * SECOND
            if clicked < page.end and draw(page.page_view_id, trigger_id, "click?") < 0.3:
                page.events.append((clicked, {**base, **SHOWN_FRESH}))
                self.maybe_engage(page, trigger_id, clicked)

    # -- engagement -----------------------------------------------------------------
    def maybe_engage(self, page: Page, trigger_id: str, shown_at: int) -> None:
        engaged_at = shown_at + between(4, 25, page.page_view_id, "engage") * SECOND
        if engaged_at >= page.end or draw(page.page_view_id, "engage?") < 0.35:
            return
        self.engagements += 1
        self.engaged[page.visitor_id] = (engaged_at, engaged_at)  # end set below
        outcome = {3: "unserved", 5: "closed_by_visitor", 7: "unserved"}.get(
            self.engagements, "served"
        )
        base = trigger_keys(trigger_id)
        chat: list[tuple[int, dict]] = [
            (engaged_at, {**base, "event": "chat_engaged"}),
            (engaged_at + 1, {**base, "event": "message_sent"}),
        ]
        conversation = {
            "type": "conversation",
            "id": self.next_id("c", 3),
            "channel": "web_chat",
            "visitor_id": page.visitor_id,
            "page_view_id": page.page_view_id,
            "queued_at": iso(engaged_at),
        }
        available = self.available_agents(engaged_at)
        if outcome == "unserved" or not available:
            outcome = "unserved"
            end = engaged_at + IMPOSSIBILITY_DELAY_MS
            conversation |= {"ended_at": iso(end), "outcome": outcome}
        else:
            agent = available[self.agent_turn % len(available)]
            self.agent_turn += 1
            started = engaged_at + between(8, 45, page.page_view_id, "pickup") * SECOND
            end = started + between(3, 9, page.page_view_id, "length") * MINUTE
            if outcome == "closed_by_visitor":
                end = started + between(40, 90, page.page_view_id, "quit") * SECOND
            conversation |= {"agent_id": agent, "started_at": iso(started),
                             "ended_at": iso(end), "outcome": outcome}  # fmt: skip
            t = started + 4 * SECOND
            while t < end - 10 * SECOND:
                chat.append((t, {**base, "event": "message_received"}))
                t += between(20, 70, page.page_view_id, t, "reply") * SECOND
                if t < end - 10 * SECOND:
                    chat.append((t, {**base, "event": "message_sent"}))
                t += between(20, 70, page.page_view_id, t, "next") * SECOND
        chat.append((end, {"event": "chat_closed"}))
        self.engaged[page.visitor_id] = (engaged_at, end)
        self.add("conversations", conversation_time(conversation), conversation)
        self.place_chat(page, chat)

    def place_chat(self, page: Page, chat: list[tuple[int, dict]]) -> None:
        """Put chat events on the page view in progress; continuation on later pages."""
        visit_pages = [p for p in self.pages if p.visitor_id == page.visitor_id]
        following = visit_pages[visit_pages.index(page) + 1 :]
        closed_at = chat[-1][0]
        for later in following:
            if later.start >= closed_at:
                break
            later.events.append(
                (later.start + 300,
                 {"event": "chat_shown", "trigger_id": None, "trigger_continuation": True})
            )  # fmt: skip
        for at_ms, event in chat:
            host = page
            for later in following:
                if later.start <= at_ms:
                    host = later
            host.events.append((at_ms, event))
            if at_ms >= host.end:
                linger = at_ms + between(2, 30, host.page_view_id, "linger") * SECOND
                after = [p.start for p in following if p.start > host.start]
                host.end = min([linger, *[s - 1 for s in after]])

    # -- variables and identities ----------------------------------------------------
    def fill_variables(self, page: Page) -> None:
        key = page.page_view_id
        mid = page.start + (page.end - page.start) // 2
        amount = PRICES.get(pick(list(PRICES), key, "cart"), 50.0)
        if page.path == "/cart":
            page.vars += [(page.start + 500, "custom_cart_amount", amount),
                          (page.start + 500, "custom_logged_in", False),
                          (mid, "custom_cart_amount", round(amount + 35.5, 2))]  # fmt: skip
        elif page.path.startswith("/checkout"):
            page.vars.append((page.start + 400, "custom_cart_amount", round(amount + 35.5, 2)))
            page.vars.append((page.start + 400, "custom_logged_in", False))
            if page.path == "/checkout" and draw(key, "login") < 0.6:
                page.vars.append((mid, "custom_logged_in", True))
                self.identity(page, mid, signed=draw(key, "signed") < 0.5)
        elif page.path == "/pricing":
            page.vars.append((page.start + 600, "custom_plan", "basic"))
            if draw(key, "upgrade") < 0.5:
                page.vars.append((mid, "custom_plan", "pro"))
        elif page.path == "/account":
            page.vars.append((page.start + 300, "custom_logged_in", True))
            plan = pick(["pro", "basic", None], key, "plan")
            page.vars.append((page.start + 300, "custom_plan", plan))
            self.identity(page, page.start + 250, signed=True)

    def identity(self, page: Page, at_ms: int, signed: bool) -> None:
        identity_id = self.next_id("id", 3)
        offset = CLOCK_OFFSET_MS if page.visitor_id == CLOCK_OFFSET_VISITOR else 0
        record = {"type": "identity", "id": identity_id, "visitor_id": page.visitor_id,
                  "signed": signed, "set_at": iso(at_ms + offset)}  # fmt: skip
        if identity_id != "id002":  # one anonymous identity without a company uuid
            record["uuid"] = f"cust-{int(draw(page.visitor_id, 'uuid') * 9000) + 1000}"
        self.add("identities", at_ms, record)
        kind = {1: "open", 2: "locked", 3: "closed"}.get(self.counters["id"])
        if kind is None:
            return
        opened = at_ms + 2 * MINUTE
        thread = {"type": "thread", "id": f"th{self.counters['id']}",
                  "identity_id": identity_id, "opened_at": iso(opened),
                  "identity_initiated_thread": kind != "locked"}  # fmt: skip
        if kind in ("locked", "closed"):
            thread["locked_at"] = iso(opened + 20 * MINUTE)
        if kind == "closed":
            thread["closed_at"] = iso(opened + 3 * HOUR)
        self.add("threads", opened, thread)

    # -- output --------------------------------------------------------------------------
    def emit_pages(self) -> None:
        for page in self.pages:
            offset = CLOCK_OFFSET_MS if page.visitor_id == CLOCK_OFFSET_VISITOR else 0
            record = {"type": "page_view", "id": page.page_view_id,
                      "visitor_id": page.visitor_id, "started_at": iso(page.start + offset),
                      "ended_at": iso(page.end + offset) if page.end_recorded else None,
                      "url": HOST + page.path + page.query}  # fmt: skip
            if int(page.page_view_id[2:]) % 4 != 1:  # path is optional: derived if absent
                record["path"] = page.path
            record |= {
                "title": TITLES[page.path],
                "referrer": page.referrer,
                "device": pick(["desktop", "desktop", "mobile", "tablet"], page.visitor_id),
                "embedded": False,
                "page_change": page.page_change,
                "placeholders": self.placeholders(page.path),
            }
            self.add("page_views", page.start, record)
            for at_ms, name, value in page.vars:
                self.add(
                    "var_changes",
                    at_ms,
                    {"type": "var_change", "id": self.next_id("vc"),
                     "page_view_id": page.page_view_id, "name": name, "value": value,
                     "changed_at": iso(at_ms + offset)},
                )  # fmt: skip
            for at_ms, event in sorted(page.events, key=lambda e: e[0]):
                self.add(
                    "chat_events",
                    at_ms,
                    {"type": "chat_event", "id": self.next_id("ce"),
                     "page_view_id": page.page_view_id, "visitor_id": page.visitor_id,
                     "event_at": iso(at_ms + offset), **event},
                )  # fmt: skip

    @staticmethod
    def placeholders(path: str) -> list[str]:
        if path == PARTIAL_FIXED_BUTTON_PATH:
            return []
        if path.startswith("/help") or path in ("/pricing", "/account"):
            return ["btn-fixed-help"]
        return []

    def files(self) -> dict[str, str]:
        out = {}
        for table, records in self.records.items():
            ordered = sorted(records, key=lambda r: (r[0], r[1]["id"]))
            lines = [json.dumps(r, ensure_ascii=False) for _, r in ordered]
            out[f"{table}.jsonl"] = "\n".join(lines) + "\n"
        return out


def trigger_keys(trigger_id: str) -> dict:
    """The trigger data group of a JavaScript event."""
    label = TRIGGERS[trigger_id]
    return {"trigger_id": trigger_id, "trigger_label": label,
            "trigger_human_id": f"{label} #{trigger_id}"}  # fmt: skip


def conversation_time(conversation: dict) -> int:
    stamp = datetime.strptime(conversation["queued_at"], "%Y-%m-%dT%H:%M:%S.%fZ")
    return int(stamp.replace(tzinfo=UTC).timestamp() * 1000)


def build() -> dict[str, str]:
    """The sample as ``{file name: JSON Lines text}``."""
    sample = Sample()
    sample.build_source()
    sample.build_agents()
    sample.build_background_load()
    sample.build_visits()
    sample.emit_pages()
    return sample.files()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "data" / "sample")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, text in sorted(build().items()):
        (args.out / name).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
