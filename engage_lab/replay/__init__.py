"""``replay``: one entry point over both engines, with restrictions, KPIs and fidelity.

:func:`replay` (:mod:`~engage_lab.replay.run`) runs a configuration (or configuration
history) over the history of an engage_lab database with the fast engine (``engine="fast"``, DuckDB) or the reference
Chat Manager (``engine="reference"``) and returns a :class:`ReplayResult`: the events
(:mod:`engage_lab.events` schema), the KPIs (:mod:`engage_lab.kpis`) and, when the
database holds recorded chat events, the fidelity of the replay to the recording with
the first mismatching page views.

Restrictions, all optional and combined with AND:

* ``time_range=(start, end)`` — page views starting in ``[start, end)`` (state before the
  range is not carried in);
* ``sample=fraction`` — a stable hash sample of visitors
  (:func:`engage_lab.draws.in_sample` keyed by the replay's seed, else the source's);
* ``segment=condition`` — a GrowthBook-style condition (same operators and semantics as
  trigger expressions) evaluated once per page view over the attributes
  ``page.page_view_id``, ``page.url``, ``page.path``, ``page.title``, ``page.referrer``,
  ``page.device``, ``page.embedded``, ``page.page_change``, ``visitor.id`` and
  ``visitor.country``. Page views outside the segment are not replayed: they are removed
  from the history the engine sees, so the remaining pages' visit context (page counts,
  previous pages) is that of the restricted history.

The fast engine takes every restriction natively (its page-view facts are built for
them); the reference takes the time range and the sample, and gets a history view
without the page views outside a segment. KPIs and fidelity are computed over exactly
the replayed page views, coded (:mod:`engage_lab.kpis.coded`); the frames of
:class:`ReplayResult` are built when first read.

Modules: :mod:`~engage_lab.replay.run` (the entry point),
:mod:`~engage_lab.replay.engines` (the engines behind one interface, by name),
:mod:`~engage_lab.replay.restrictions`, :mod:`~engage_lab.replay.recorded` (the recorded
chat events, coded), :mod:`~engage_lab.replay.result` (:class:`ReplayResult`).

>>> import tempfile, pathlib, engage_lab as el
>>> from engage_lab.config import production
>>> lab = el.open(pathlib.Path(tempfile.mkdtemp()) / "r.duckdb")
>>> res = replay(lab, production("live_chat"), engine="reference")
>>> res.kpis["page_views"], res.fidelity is None     # an empty database
(0, True)
>>> lab.close()
"""

from __future__ import annotations

from engage_lab.replay.restrictions import SEGMENT_ATTRIBUTES
from engage_lab.replay.result import ReplayResult
from engage_lab.replay.run import ENGINES, replay, replayed_page_views

__all__ = ["ENGINES", "SEGMENT_ATTRIBUTES", "ReplayResult", "replay", "replayed_page_views"]
