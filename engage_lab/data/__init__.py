"""Data: the table schema, readers for JSONL / CSV / Parquet, transactional loads.

The rules the loader applies, in one place (``docs/data-format.md`` documents them for
users; each module's docstring has the details):

Files
    ``lab.load(*paths)`` takes files or folders; a folder contributes its data files at
    the top level only (``*.jsonl``, ``*.ndjson``, ``*.json`` read as JSON Lines, ``*.csv``,
    ``*.parquet``); sub-folders such as ``truth/`` are not read. JSON Lines files mix
    record types (each line an object with ``type`` and ``id``); a CSV or Parquet file
    holds one record type and is named after its table or record type (the name up to
    its first dot: ``page_views.csv``, ``page_view.2026-03.parquet``). A file without
    any record is refused (an empty export is more often a failed one).
Fields
    Exactly the fields of ``schema.TABLES`` (``id`` for the id column); an unknown field
    is an error (a misspelt field silently dropped would lose data), so is a field given
    twice. JSON types are strict (``"3"`` is not an integer). CSV cells are text parsed
    by the column's type: empty = null, booleans ``true`` / ``false``, ``placeholders``
    a JSON array (``["a","b"]``), ``value`` a JSON scalar when it parses as one
    (``129.5``, ``true``, ``"gold"``), else the text itself. Parquet columns must have a
    matching type (timestamps may be TIMESTAMP — zone-less taken as UTC —, integer epoch
    milliseconds, or ISO text).
Timestamps
    ISO 8601 with a zone (``Z`` or ``+hh:mm``), or integer epoch milliseconds; stored as
    ``TIMESTAMP`` in UTC. Digits below the millisecond are truncated; a time without a
    zone is refused, so is an offset that does not exist (beyond -12:00 .. +14:00, or
    minutes of 60 and more). Every instant lies in 2000 .. 2100, also after a visitor's
    clock offset (at most a day either way) is applied.
Lines
    A line holds at most 16 MiB; longer lines and lines that are not UTF-8 are refused
    one by one, and the other lines of their file are still checked
    (:mod:`engage_lab.data.lines`).
Problems
    Every problem of every file is listed as ``file:line: field: problem`` (file base
    name, 1-based line; CSV: the file's line, the header is line 1; Parquet: row number,
    1 for column-level problems); the error message shows 20 and counts the rest
    (10,000 are kept on ``LoadError.problems``, ``LoadError.total`` counts them all). Any
    problem refuses the whole call and leaves the database unchanged (one transaction
    per call).
Identity
    A record is ``(type, id)``. The same record again with identical content is skipped
    (loading a file twice adds nothing; overlapping files are fine); with other content
    it is an error naming both places and the fields that differ. References
    (``page_view_id``, ``identity_id``, ``agent_id``) must name a record of the load or
    of the database; a chat event's or conversation's ``visitor_id`` must be its page
    view's visitor; one ``source`` per database.
Derived
    ``path`` (from ``url`` when absent), ``ended_at`` when not recorded
    (``end_recorded = false``: last event of the page view, or start + 30 min),
    ``visit_id`` (first page view of the visit; visit idle 24 h by default, stored in
    ``lab_meta`` and ``loads.visit_idle_ms``; a load with another ``visit_idle``
    re-derives every visit), ``value_type`` of var changes. A visitor's
    ``clock_offset_ms`` is subtracted from its browser times (page views, var changes,
    chat events, identities) in the same and later loads; an offset that arrives after
    the visitor's records is refused.
Bookkeeping
    Every data table ends with ``load_id``, ``load_file``, ``load_line`` (where the
    record came from). ``loads(load_id, loaded_at, files, digests, rows, rows_by_table,
    visit_idle_ms, undone_at)`` records every call, also those that added nothing;
    ``unload(load_id)`` removes exactly that load's records, re-derives what depended on
    them and sets ``undone_at`` (refused while other loads' records refer to them).
"""

from __future__ import annotations
