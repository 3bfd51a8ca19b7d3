"""Recorded engagements and messaging threads, in SQL.

For replay over a recorded history (docs/semantics.md, "Engagement"): the engagement
instants are the visitor's distinct ``chat_engaged`` instants; the conversation of an
engagement at ``e`` spans the visitor's recorded events from ``e`` to the next
``chat_engaged``. In live chat it ends when the visitor closes the chat (the first
``chat_closed`` of the span) or, when no agent took it within the impossibility delay
(its web-chat conversation — the first of the visitor queued in the span — did not start
by ``e + delay``; with no such record, no ``message_received`` by then), unserved at
``e + delay``. Messaging conversations end only with the visit. Outcome events kept: those
of the span up to the end, without ``message_received`` / ``chat_closed`` when unserved.

Whether an engagement is honoured depends on the sequential pass (chat or item visible,
not engaged); this module only prepares the instants, ends and outcome rows.
"""

from __future__ import annotations

__all__ = ["ENGAGEMENTS_SQL", "OPEN_THREADS_SQL", "OUTCOMES_SQL"]

#: ``_el_eng(vcode, visitor_id, e, stop, unserved)`` (params: live, delay)
ENGAGEMENTS_SQL = """
CREATE OR REPLACE TEMP TABLE _el_eng AS
WITH visitors AS (
    SELECT visitor_id, min(pvi) AS first_pvi FROM _el_pv GROUP BY visitor_id
), eng AS (
    SELECT DISTINCT c.visitor_id, epoch_ms(c.event_at) AS e
    FROM chat_events c JOIN visitors USING (visitor_id)
    WHERE c.event = 'chat_engaged'
), spans AS (
    SELECT visitor_id, e, lead(e) OVER (PARTITION BY visitor_id ORDER BY e) AS span_end
    FROM eng
), outcomes AS (
    SELECT visitor_id, epoch_ms(event_at) AS x, event FROM chat_events
    WHERE event IN ('message_sent', 'message_received', 'chat_closed')
), chats AS (
    SELECT visitor_id, conversation_id, epoch_ms(queued_at) AS q, epoch_ms(started_at) AS st
    FROM conversations WHERE channel = 'web_chat' AND visitor_id IS NOT NULL
), per_span AS (
    SELECT s.visitor_id, s.e, s.span_end,
        (SELECT min(o.x) FROM outcomes o WHERE o.visitor_id = s.visitor_id
            AND o.event = 'chat_closed' AND o.x >= s.e
            AND (s.span_end IS NULL OR o.x < s.span_end)) AS closed,
        (SELECT count(*) FROM chats c WHERE c.visitor_id = s.visitor_id AND c.q >= s.e
            AND (s.span_end IS NULL OR c.q < s.span_end)) AS n_chats,
        (SELECT arg_min(c.st, (c.q, c.conversation_id)) FROM chats c
            WHERE c.visitor_id = s.visitor_id AND c.q >= s.e
            AND (s.span_end IS NULL OR c.q < s.span_end)) AS chat_start,
        (SELECT count(*) FROM outcomes o WHERE o.visitor_id = s.visitor_id
            AND o.event = 'message_received' AND o.x >= s.e
            AND (s.span_end IS NULL OR o.x < s.span_end)
            AND o.x <= s.e + $delay) AS received
    FROM spans s
), decided AS (
    SELECT *,
        CASE WHEN n_chats > 0 THEN coalesce(chat_start <= e + $delay, false)
             ELSE received > 0 END AS served
    FROM per_span
), ended AS (
    SELECT *,
        $live AND $delay IS NOT NULL AND NOT served
            AND (closed IS NULL OR e + $delay < closed) AS unserved
    FROM decided
)
SELECT v.first_pvi, d.visitor_id, d.e, d.span_end,
    CASE WHEN d.unserved THEN d.e + $delay WHEN $live THEN d.closed END AS stop,
    d.unserved
FROM ended d JOIN visitors v USING (visitor_id)
ORDER BY v.first_pvi, d.e
"""

#: ``_el_outcomes``: outcome events of honoured engagements (needs ``_el_honoured``)
OUTCOMES_SQL = """
WITH kept AS (
    SELECT c.chat_event_id, c.visitor_id, c.page_view_id, epoch_ms(c.event_at) AS x, c.event,
           h.pvi AS engaged_pvi
    FROM _el_honoured h
    JOIN _el_eng g ON g.visitor_id = h.visitor_id AND g.e = h.e
    JOIN chat_events c ON c.visitor_id = g.visitor_id
    WHERE c.event IN ('message_sent', 'message_received', 'chat_closed')
      AND epoch_ms(c.event_at) >= g.e
      AND (g.span_end IS NULL OR epoch_ms(c.event_at) < g.span_end)
      AND (g.stop IS NULL OR epoch_ms(c.event_at) <= g.stop)
      AND NOT (g.unserved AND c.event IN ('message_received', 'chat_closed'))
), own AS (
    SELECT k.*, p.pvi AS own_pvi FROM kept k
    LEFT JOIN _el_pv p ON p.page_view_id = k.page_view_id AND p.visitor_id = k.visitor_id
), located AS (
    SELECT o.*, a.pvi AS at_pvi FROM own o
    ASOF LEFT JOIN (SELECT visitor_id, s, pvi FROM _el_pv) a
      ON a.visitor_id = o.visitor_id AND o.x >= a.s
)
SELECT coalesce(own_pvi, at_pvi, engaged_pvi) AS pvi, x, event FROM located
"""

#: ``open_thread`` per page view at its start (messaging stage)
OPEN_THREADS_SQL = """
WITH ids AS (
    SELECT visitor_id, epoch_ms(set_at) AS set_ms,
           arg_max(identity_id, identity_id) AS identity_id,
           arg_max(coalesce('uuid:' || uuid, 'id:' || identity_id), identity_id) AS key
    FROM identities GROUP BY visitor_id, set_at
), thread_keys AS (
    SELECT coalesce('uuid:' || i.uuid, 'id:' || t.identity_id) AS key,
           epoch_ms(t.opened_at) AS o, epoch_ms(t.locked_at) AS l, epoch_ms(t.closed_at) AS c
    FROM threads t LEFT JOIN identities i USING (identity_id)
), current AS (
    SELECT p.pvi, p.s, ids.key FROM _el_pv p
    ASOF LEFT JOIN ids ON ids.visitor_id = p.visitor_id AND p.s >= ids.set_ms
)
SELECT cur.pvi FROM current cur
WHERE cur.key IS NOT NULL AND EXISTS (
    SELECT 1 FROM thread_keys th WHERE th.key = cur.key AND th.o <= cur.s
      AND (th.l IS NULL OR th.l > cur.s) AND (th.c IS NULL OR th.c > cur.s))
"""
