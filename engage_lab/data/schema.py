"""The tables of an engage_lab database and the raw records that fill them.

This module is the single source of truth for names, columns and types: the loader, the
documentation (``docs/data-format.md``), the engines and the world generator all read it.
A raw record is one JSON object with a ``type`` (the record type) and an ``id`` unique
within its type; CSV and Parquet files carry the same fields as columns, one file per
record type (the file is named after the table or the record type, e.g.
``page_views.csv`` or ``page_view.parquet``).

Timestamps are ISO 8601 strings with a zone (``2026-03-02T09:15:00.250Z``) or integer
milliseconds since the epoch (a number is never read in another unit); they are stored as
``TIMESTAMP`` in UTC, millisecond precision, and must lie from 2000-01-01 to 2100-01-01
(:data:`engage_lab.data.validate.PLAUSIBLE`), which refuses epoch seconds (1970).
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "BOOKKEEPING_COLUMNS",
    "BOUNDS",
    "BROWSER_TIMES",
    "CHAT_EVENTS",
    "CONVERSATION_OUTCOMES",
    "DEFAULT_VISIT_IDLE_MS",
    "ENUMS",
    "INFERRED_PAGE_LENGTH_MS",
    "LOADS_COLUMNS",
    "LOADS_TABLE",
    "MAX_CLOCK_OFFSET_MS",
    "META_TABLE",
    "MINIMUMS",
    "ORDER_RULES",
    "PREFIXES",
    "PRESENCE_STATUSES",
    "RECORD_TYPES",
    "SCHEMA_VERSION",
    "SOURCE_STATUSES",
    "TABLES",
    "TABLES_BY_NAME",
    "Column",
    "Table",
    "raw_columns",
    "raw_field",
    "table_for_record_type",
]

#: The product's JavaScript event vocabulary (the Chat Manager's event names).
CHAT_EVENTS = (
    "started",
    "trigger_activated",
    "trigger_executed",
    "item_shown",
    "button_shown",
    "invitation_shown",
    "chat_shown",
    "chat_engaged",
    "message_sent",
    "message_received",
    "chat_closed",
)
PRESENCE_STATUSES = ("available", "away", "offline")
SOURCE_STATUSES = ("active", "inactive", "maintenance")
CONVERSATION_OUTCOMES = ("served", "unserved", "closed_by_visitor")
MODES = ("online", "offline")
ITEM_TYPES = ("button", "invitation")
CHANNELS_WEB_CHAT = "web_chat"

ENUMS: dict[tuple[str, str], tuple[str, ...]] = {
    ("chat_events", "event"): CHAT_EVENTS,
    ("chat_events", "mode"): MODES,
    ("chat_events", "item_type"): ITEM_TYPES,
    ("presence", "status"): PRESENCE_STATUSES,
    ("source_status", "status"): SOURCE_STATUSES,
    ("conversations", "outcome"): CONVERSATION_OUTCOMES,
    ("source", "mode"): ("live_chat", "messaging"),
}


@dataclass(frozen=True, slots=True)
class Column:
    """One column: its DuckDB type, whether a raw record must carry it, what it means.

    ``raw`` is False for columns the loader derives (``visit_id``, ``path`` when absent,
    ``load_id``); ``references`` names the table whose id this column must match.
    """

    name: str
    sql_type: str
    doc: str
    required: bool = False
    raw: bool = True
    references: str | None = None


@dataclass(frozen=True, slots=True)
class Table:
    """A table, the raw record type that fills it, and its id column."""

    name: str
    record_type: str
    columns: tuple[Column, ...]
    doc: str
    example: dict = field(default_factory=dict)

    @property
    def id_column(self) -> str:
        return f"{self.record_type}_id"

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)


def _id(record_type: str) -> Column:
    return Column(
        f"{record_type}_id",
        "VARCHAR",
        f"unique id of the {record_type} (raw field `id`)",
        required=True,
    )


TS = "TIMESTAMP"

TABLES: tuple[Table, ...] = (
    Table(
        "source",
        "source",
        (
            _id("source"),
            Column("mode", "VARCHAR", "`live_chat` or `messaging`", required=True),
            Column(
                "timezone",
                "VARCHAR",
                "IANA zone of Time / Day-of-week criteria (UTC); one DuckDB and zoneinfo both know",
            ),
            Column("seed", "VARCHAR", "seed of the gating draws recorded with the history"),
        ),
        "The chat source the history was recorded for (one per database).",
        {
            "type": "source",
            "id": "src1",
            "mode": "live_chat",
            "timezone": "Europe/Paris",
            "seed": "42",
        },
    ),
    Table(
        "source_status",
        "source_status",
        (
            _id("source_status"),
            Column("changed_at", TS, "instant the status took effect", required=True),
            Column("status", "VARCHAR", "`active`, `inactive` or `maintenance`", required=True),
        ),
        "Windows when the source was inactive or in maintenance (nothing runs then).",
        {
            "type": "source_status",
            "id": "st1",
            "changed_at": "2026-03-04T02:00:00Z",
            "status": "maintenance",
        },
    ),
    Table(
        "visitors",
        "visitor",
        (
            _id("visitor"),
            Column(
                "clock_offset_ms",
                "BIGINT",
                "browser clock minus server clock, at most one day either way; the loader "
                "subtracts it from the visitor's browser times",
            ),
            Column("country", "VARCHAR", "ISO country code"),
        ),
        "Optional per-visitor facts; a page view may name a visitor without one.",
        {"type": "visitor", "id": "v1", "clock_offset_ms": 0, "country": "FR"},
    ),
    Table(
        "page_views",
        "page_view",
        (
            _id("page_view"),
            Column("visitor_id", "VARCHAR", "the browser", required=True),
            Column(
                "visit_id", "VARCHAR", "derived at load with the visit idle duration", raw=False
            ),
            Column("started_at", TS, "page view start (inclusive)", required=True),
            Column("ended_at", TS, "page view end (exclusive); null when not recorded"),
            Column("end_recorded", "BOOLEAN", "false when ended_at was inferred", raw=False),
            Column("url", "VARCHAR", "whole URL", required=True),
            Column("path", "VARCHAR", "URL without scheme, host and anchor (derived if absent)"),
            Column("title", "VARCHAR", "document title"),
            Column("referrer", "VARCHAR", "referrer URL"),
            Column("device", "VARCHAR", "`desktop`, `mobile` or `tablet`"),
            Column("embedded", "BOOLEAN", "page hosts the embedded chat container"),
            Column("page_change", "BOOLEAN", "single-page application page change"),
            Column(
                "placeholders",
                "VARCHAR[]",
                "item ids of fixed buttons whose placeholder the page carries",
            ),
        ),
        "One page view `[started_at, ended_at)`.",
        {
            "type": "page_view",
            "id": "pv1",
            "visitor_id": "v1",
            "started_at": "2026-03-02T09:15:00.250Z",
            "ended_at": "2026-03-02T09:16:10Z",
            "url": "https://shop.example/cart?step=1",
            "title": "Your cart",
            "referrer": "https://shop.example/",
            "device": "desktop",
            "embedded": False,
            "page_change": False,
            "placeholders": ["btn-fixed"],
        },
    ),
    Table(
        "var_changes",
        "var_change",
        (
            _id("var_change"),
            Column(
                "page_view_id",
                "VARCHAR",
                "page view the value belongs to",
                required=True,
                references="page_views",
            ),
            Column(
                "name", "VARCHAR", "custom variable name, starting with `custom_`", required=True
            ),
            Column("value", "JSON", "the value as JSON (string, number, boolean or null)"),
            Column("value_type", "VARCHAR", "`string`, `number`, `boolean` or `null`", raw=False),
            Column("changed_at", TS, "instant the value was set", required=True),
        ),
        "A custom variable filled (or changed) during a page view.",
        {
            "type": "var_change",
            "id": "vc1",
            "page_view_id": "pv1",
            "name": "custom_cart",
            "value": 129.5,
            "changed_at": "2026-03-02T09:15:20Z",
        },
    ),
    Table(
        "identities",
        "identity",
        (
            _id("identity"),
            Column("visitor_id", "VARCHAR", "the browser", required=True),
            Column("uuid", "VARCHAR", "company-managed uuid grouping one person's visits"),
            Column("signed", "BOOLEAN", "set with a signed JWT"),
            Column("set_at", TS, "instant the identity was set", required=True),
        ),
        "An identity set on a visitor.",
        {
            "type": "identity",
            "id": "id1",
            "visitor_id": "v1",
            "uuid": "cust-77",
            "signed": True,
            "set_at": "2026-03-02T09:15:30Z",
        },
    ),
    Table(
        "threads",
        "thread",
        (
            _id("thread"),
            Column(
                "identity_id", "VARCHAR", "owner identity", required=True, references="identities"
            ),
            Column("opened_at", TS, "thread opened", required=True),
            Column("locked_at", TS, "thread locked"),
            Column("closed_at", TS, "thread closed"),
            Column("identity_initiated_thread", "BOOLEAN", "started by the visitor"),
        ),
        "A messaging thread of an identity (open, locked or closed by its instants).",
        {
            "type": "thread",
            "id": "th1",
            "identity_id": "id1",
            "opened_at": "2026-03-01T10:00:00Z",
            "locked_at": None,
            "closed_at": None,
            "identity_initiated_thread": True,
        },
    ),
    Table(
        "chat_events",
        "chat_event",
        (
            _id("chat_event"),
            Column("page_view_id", "VARCHAR", "page view", required=True, references="page_views"),
            Column("visitor_id", "VARCHAR", "the browser", required=True),
            Column("event_at", TS, "instant of the event", required=True),
            Column("event", "VARCHAR", "event name of the JavaScript vocabulary", required=True),
            Column("trigger_id", "VARCHAR", "trigger (null for built-in stages)"),
            Column("trigger_label", "VARCHAR", "trigger label"),
            Column(
                "trigger_human_id",
                "VARCHAR",
                "label, a space, `#`, then the trigger id (as the JavaScript event carries it)",
            ),
            Column("trigger_continuation", "BOOLEAN", "fired by continuation"),
            Column("mode", "VARCHAR", "`online` or `offline`"),
            Column("item_id", "VARCHAR", "item shown"),
            Column("item_type", "VARCHAR", "`button` or `invitation`"),
            Column("item_label", "VARCHAR", "item label"),
            Column("item_human_id", "VARCHAR", "label, a space, `#`, then the item id"),
            Column("server_probability", "DOUBLE", "extension: the server's answer"),
            Column("draw", "DOUBLE", "extension: the client's draw u"),
        ),
        "A recorded Chat Manager event, in the product's JavaScript event vocabulary.",
        {
            "type": "chat_event",
            "id": "ce1",
            "page_view_id": "pv1",
            "visitor_id": "v1",
            "event_at": "2026-03-02T09:15:45Z",
            "event": "trigger_executed",
            "trigger_id": "t-invite",
            "trigger_label": "Cart invitation",
            "mode": "online",
            "server_probability": 1.0,
        },
    ),
    Table(
        "agents",
        "agent",
        (
            _id("agent"),
            Column("name", "VARCHAR", "display name"),
            Column("soft_limit", "INTEGER", "concurrent conversations (>= 0)", required=True),
        ),
        "An agent and their soft limit.",
        {"type": "agent", "id": "a1", "name": "Ana", "soft_limit": 3},
    ),
    Table(
        "presence",
        "presence",
        (
            _id("presence"),
            Column("agent_id", "VARCHAR", "agent", required=True, references="agents"),
            Column("changed_at", TS, "instant of the change", required=True),
            Column("status", "VARCHAR", "`available`, `away` or `offline`", required=True),
        ),
        "A presence change of an agent.",
        {
            "type": "presence",
            "id": "p1",
            "agent_id": "a1",
            "changed_at": "2026-03-02T08:00:00Z",
            "status": "available",
        },
    ),
    Table(
        "conversations",
        "conversation",
        (
            _id("conversation"),
            Column(
                "agent_id",
                "VARCHAR",
                "agent who served it (null if never started)",
                references="agents",
            ),
            Column(
                "channel", "VARCHAR", "`web_chat`, `email`, `phone`, `social`, ...", required=True
            ),
            Column("visitor_id", "VARCHAR", "web chat: the visitor"),
            Column(
                "page_view_id",
                "VARCHAR",
                "web chat: page view of the engagement",
                references="page_views",
            ),
            Column("queued_at", TS, "entered the queue", required=True),
            Column("started_at", TS, "an agent took it"),
            Column("ended_at", TS, "ended"),
            Column("outcome", "VARCHAR", "web chat: `served`, `unserved`, `closed_by_visitor`"),
        ),
        "A conversation on any channel (agents' load).",
        {
            "type": "conversation",
            "id": "c1",
            "agent_id": "a1",
            "channel": "web_chat",
            "visitor_id": "v1",
            "page_view_id": "pv1",
            "queued_at": "2026-03-02T09:16:00Z",
            "started_at": "2026-03-02T09:16:20Z",
            "ended_at": "2026-03-02T09:24:00Z",
            "outcome": "served",
        },
    ),
)

#: Bookkeeping table: every load call.
LOADS_COLUMNS: tuple[Column, ...] = (
    Column("load_id", "VARCHAR", "id of the load (`L0001`, `L0002`, ... in load order)"),
    Column("loaded_at", TS, "when the load ran (UTC)"),
    Column("files", "VARCHAR[]", "files read (absolute paths)"),
    Column("digests", "VARCHAR[]", "sha256 of each file"),
    Column("rows", "BIGINT", "records added"),
    Column("rows_by_table", "JSON", "records added per table (object table -> count)"),
    Column("visit_idle_ms", "BIGINT", "visit idle duration in force after this load"),
    Column("undone_at", TS, "when `unload` undid this load; null while it stands"),
)

#: Bookkeeping columns the loader adds to every data table, after the schema's columns:
#: where each record came from, so a conflicting duplicate names both places and
#: ``unload`` removes exactly what a load added.
BOOKKEEPING_COLUMNS: tuple[Column, ...] = (
    Column("load_id", "VARCHAR", "the load that added the record"),
    Column("load_file", "VARCHAR", "base name of the file the record came from"),
    Column("load_line", "BIGINT", "1-based line (JSONL), CSV line, or Parquet row number"),
)

#: Key/value facts about the database (``visit_idle_ms``: the idle duration visits were
#: derived with; ``schema_version``).
META_TABLE = "lab_meta"
LOADS_TABLE = "loads"
SCHEMA_VERSION = "1"

#: Default visit idle duration (a gap longer than this starts a new visit) and inferred
#: page length (of a page view with no recorded end and no event).
DEFAULT_VISIT_IDLE_MS = 24 * 3600 * 1000
INFERRED_PAGE_LENGTH_MS = 30 * 60 * 1000

#: ``(table, earlier, later)``: ``later`` may not be before ``earlier`` when both are set.
ORDER_RULES: tuple[tuple[str, str, str], ...] = (
    ("page_views", "started_at", "ended_at"),
    ("conversations", "queued_at", "started_at"),
    ("conversations", "queued_at", "ended_at"),
    ("conversations", "started_at", "ended_at"),
    ("threads", "opened_at", "locked_at"),
    ("threads", "opened_at", "closed_at"),
)

#: ``(table, column) -> minimum`` for numbers.
MINIMUMS: dict[tuple[str, str], int] = {("agents", "soft_limit"): 0}

#: The largest clock offset a visitor record may give, either way: one day. Browser
#: clocks drift by seconds or minutes; the largest honest error is a clock set to local
#: time as if it were UTC, at most 14 hours (UTC+14:00). Beyond a day the browser's
#: times say nothing reliable, and an offset of millennia would move instants out of
#: every range the engines can hold.
MAX_CLOCK_OFFSET_MS = 24 * 3600 * 1000

#: ``(table, column) -> (lowest, highest)`` for numbers, both included.
BOUNDS: dict[tuple[str, str], tuple[int, int]] = {
    ("visitors", "clock_offset_ms"): (-MAX_CLOCK_OFFSET_MS, MAX_CLOCK_OFFSET_MS),
}

#: ``(table, column) -> prefix`` a text value must start with.
PREFIXES: dict[tuple[str, str], str] = {("var_changes", "name"): "custom_"}

#: Browser times: a visitor's ``clock_offset_ms`` is subtracted from these columns.
#: ``table -> (visitor column or None when reached through page_view_id, time columns)``.
BROWSER_TIMES: dict[str, tuple[str | None, tuple[str, ...]]] = {
    "page_views": ("visitor_id", ("started_at", "ended_at")),
    "var_changes": (None, ("changed_at",)),
    "identities": ("visitor_id", ("set_at",)),
    "chat_events": ("visitor_id", ("event_at",)),
}

TABLES_BY_NAME: dict[str, Table] = {}

RECORD_TYPES: dict[str, Table] = {t.record_type: t for t in TABLES}
TABLES_BY_NAME.update({t.name: t for t in TABLES})


def raw_field(table: Table, column: Column) -> str:
    """The raw record's field name of a column (``id`` for the id column).

    >>> raw_field(RECORD_TYPES["agent"], RECORD_TYPES["agent"].columns[0])
    'id'
    """
    return "id" if column.name == table.id_column else column.name


def raw_columns(table: Table) -> tuple[Column, ...]:
    """The columns a raw record may carry, in schema order."""
    return tuple(c for c in table.columns if c.raw)


def table_for_record_type(record_type: str) -> Table:
    """The table a raw record type fills.

    >>> table_for_record_type("page_view").name
    'page_views'
    """
    return RECORD_TYPES[record_type]
