"""One hand-written interval query per trigger of the production live-chat configuration.

Each query computes, from the raw tables alone, the earliest instant at which its
trigger's conditions hold on each page view — what an analyst would write by hand for
one trigger, by interval logic: page-fixed criteria filter the page views, a duration
threshold holds from ``start + d``, a variable holds on ``[change, next change)``, the
source-time window is mapped to UTC instants, and the activation is the earliest
instant where all hold, if it falls before the page view's limit (its end, or the
visitor's next page view). They leave out what only the Chat Manager knows (chat state,
blocking, gating, engagements), so the engine, which computes all of that too, should
cost a small multiple of their sum.

Fixed SQL text; values are bound parameters. Each query returns ``(page views, sum of
activation instants)`` so that the whole result is computed.
"""

from __future__ import annotations

# the page views with their limit, normalized path and visit order (every query starts here)
_BASE = """
WITH base AS (
    SELECT page_view_id, visitor_id, visit_id, epoch_ms(started_at) AS s,
           coalesce(epoch_ms(ended_at), epoch_ms(started_at) + 1800000) AS e,
           lower(trim(path)) AS p
    FROM page_views
), pv AS (
    SELECT *, least(e, coalesce(lead(s) OVER w, e)) AS lim
    FROM base
    WINDOW w AS (PARTITION BY visitor_id ORDER BY s, page_view_id)
)
"""

# a variable's step function on its page views: [c, next change) with the test's value
_VAR = """
, {name} AS (
    SELECT page_view_id, c, ok, lead(c) OVER (PARTITION BY page_view_id ORDER BY c) AS nxt
    FROM (
        SELECT page_view_id, epoch_ms(changed_at) AS c, {test} AS ok
        FROM var_changes WHERE name = ${param}
    )
)
"""

QUERIES: dict[str, tuple[str, dict[str, object]]] = {
    "fixed-help-button": (
        _BASE + "SELECT count(*), sum(s) FROM pv WHERE s < lim",
        {},
    ),
    "cart-invitation": (
        _BASE
        + _VAR.format(
            name="cart",
            param="cart",
            test="TRY_CAST(json_extract_string(value, '$') AS DOUBLE) >= $amount",
        )
        + """
        SELECT count(*), sum(t) FROM (
            SELECT pv.page_view_id, min(greatest(pv.s + $delay, cart.c)) AS t,
                   any_value(pv.lim) AS lim
            FROM pv JOIN cart USING (page_view_id)
            WHERE pv.p = '/cart' AND cart.ok
              AND greatest(pv.s + $delay, cart.c) < coalesce(cart.nxt, 9e15)
            GROUP BY pv.page_view_id
        ) WHERE t < lim
        """,
        {"cart": "custom_cart_amount", "amount": 150, "delay": 45_000},
    ),
    "checkout-exit": (
        _BASE
        + """
        SELECT count(*), sum(s) FROM (
            SELECT s, lim, p,
                   lag(p) OVER (PARTITION BY visitor_id, visit_id ORDER BY s, page_view_id)
                       AS previous
            FROM pv
        ) WHERE starts_with(previous, '/checkout') AND NOT contains(p, '/checkout')
          AND s < lim
        """,
        {},
    ),
    "pricing-popup": (
        _BASE
        + """
        , ready AS (
            SELECT s, lim, s + $delay AS t0,
                   timezone($tz, to_timestamp((s + $delay) // 1000)) AS local
            FROM pv WHERE starts_with(p, '/pricing')
        ), timed AS (
            SELECT lim, CASE
                WHEN hour(local) * 60 + minute(local) BETWEEN 480 AND 1199 THEN t0
                ELSE epoch_ms(timezone($tz, date_trunc('day', local)
                     + to_days(CASE WHEN hour(local) * 60 + minute(local) < 480 THEN 0 ELSE 1 END)
                     + INTERVAL 8 HOUR))
                END AS t
            FROM ready
        )
        SELECT count(*), sum(t) FROM timed WHERE t < lim
        """,
        {"delay": 20_000, "tz": "Europe/Paris"},
    ),
    "help-pages-button": (
        _BASE + "SELECT count(*), sum(s) FROM pv WHERE starts_with(p, '/help') AND s < lim",
        {},
    ),
    "account-premium": (
        _BASE
        + _VAR.format(
            name="logged",
            param="logged",
            test="json_extract_string(value, '$') = 'true'",
        )
        + _VAR.format(
            name="plan",
            param="plan",
            test="lower(trim(json_extract_string(value, '$'))) IN ('business', 'enterprise')",
        )
        + """
        SELECT count(*), sum(t) FROM (
            SELECT pv.page_view_id, min(greatest(logged.c, plan.c)) AS t,
                   any_value(pv.lim) AS lim
            FROM pv JOIN logged USING (page_view_id) JOIN plan USING (page_view_id)
            WHERE starts_with(pv.p, '/account') AND logged.ok AND plan.ok
              AND greatest(logged.c, plan.c)
                  < least(coalesce(logged.nxt, 9e15), coalesce(plan.nxt, 9e15))
            GROUP BY pv.page_view_id
        ) WHERE t < lim
        """,
        {"logged": "custom_logged_in", "plan": "custom_plan"},
    ),
    "payment-assist": (
        _BASE
        + "SELECT count(*), sum(s + $delay) FROM pv "
        + "WHERE p = '/checkout/payment' AND s + $delay < lim",
        {"delay": 60_000},
    ),
}
