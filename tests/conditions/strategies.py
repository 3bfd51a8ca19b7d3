"""Hypothesis strategies: JSON attribute documents, GrowthBook conditions, criteria and pages."""

from __future__ import annotations

from hypothesis import strategies as st

from engage_lab.conditions.vocabulary import POSITIONS

# A small alphabet so generated values collide often; accents and case exercise lowercasing.
TEXT = st.text(alphabet="abAB.-1 é", max_size=4)
VERSIONS = st.sampled_from(
    ["1.2.3", "v1.2.3", "1.2.3-beta", "1.10.0", "1.2", "2", "1-2-3", "1.2.3+b", ""]
)
KEYS = ["a", "b", "c"]
NUMBERS = st.one_of(st.integers(-3, 3), st.sampled_from([0.5, -1.5, 2.0, 1e3]))
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, TEXT, VERSIONS)


def json_values(max_leaves: int = 6):
    return st.recursive(
        SCALARS,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3),
            st.dictionaries(st.sampled_from([*KEYS, "0", "1"]), inner, max_size=3),
        ),
        max_leaves=max_leaves,
    )


ATTRIBUTES = st.dictionaries(
    st.sampled_from(KEYS),
    st.one_of(json_values(), st.dictionaries(st.sampled_from(KEYS), json_values(4), max_size=3)),
    max_size=3,
)
PATHS = st.sampled_from(["a", "b", "c", "a.a", "a.b", "b.0", "b.length", "c.a.b", "missing"])

GROUPS = {
    "g_list": [1, "a", True, None],
    "g_typed": {"type": "list", "attributeKey": "a", "values": ["a", 2]},
    "g_cond": {"type": "condition", "condition": {"a": {"$exists": True}}},
    "g_cycle": {"type": "condition", "condition": {"$savedGroup": {"id": "g_cycle"}}},
    "g_new": {"type": "brand_new"},
    "g_bad": "not a group",
}
GROUP_IDS = st.sampled_from([*GROUPS, "g_missing"])

COMPARE_OPS = ["$eq", "$ne", "$lt", "$lte", "$gt", "$gte"]
VERSION_OPS = ["$veq", "$vne", "$vlt", "$vlte", "$vgt", "$vgte"]
LIST_OPS = ["$in", "$nin", "$ini", "$nini"]
REGEX_OPS = ["$regex", "$regexi", "$notRegex", "$notRegexi"]
PATTERNS = st.sampled_from(["a", "^a", "b$", "A", "[ab]+", "é", "^$", "1|2", "(", ".-", "\\d"])
TYPES = st.sampled_from(["string", "number", "boolean", "array", "object", "null", "nope"])


def operator_objects(value_conditions, conditions, sql_only: bool = False):
    """One operator object; ``sql_only`` leaves out what the SQL compiler refuses."""
    entries = [
        st.tuples(st.sampled_from(COMPARE_OPS), SCALARS),
        st.tuples(st.sampled_from(VERSION_OPS), st.one_of(VERSIONS, NUMBERS)),
        st.tuples(st.sampled_from(LIST_OPS), st.lists(SCALARS, max_size=3)),
        st.tuples(st.sampled_from(REGEX_OPS), PATTERNS),
        st.tuples(st.just("$exists"), st.booleans()),
        st.tuples(st.just("$type"), TYPES),
        st.tuples(st.just("$size"), st.one_of(st.integers(0, 3), value_conditions)),
        st.tuples(st.just("$not"), value_conditions),
        st.tuples(
            st.just("$elemMatch"),
            st.one_of(value_conditions, conditions).filter(lambda v: isinstance(v, dict)),
        ),
        st.tuples(
            st.sampled_from(["$all", "$alli"]),
            st.lists(st.one_of(SCALARS, value_conditions), max_size=2),
        ),
        st.tuples(st.sampled_from(["$inGroup", "$notInGroup"]), GROUP_IDS),
        st.tuples(st.just("$unknownOp"), SCALARS),
        st.tuples(st.just("$or"), st.just([])),
    ]
    if not sql_only:
        entries += [
            st.tuples(st.sampled_from([*LIST_OPS, "$all"]), SCALARS),
            st.tuples(st.just("$exists"), st.sampled_from([0, 1, "", "x", [], None])),
            st.tuples(st.just("$elemMatch"), st.sampled_from([5, "x", None])),
        ]
    return st.lists(st.one_of(entries), min_size=0, max_size=2).map(dict)


def conditions(sql_only: bool = False):
    """GrowthBook conditions over the paths in ``PATHS``."""

    def extend(children):
        value_conditions = st.deferred(lambda: value_tests)
        value_tests = st.one_of(
            json_values(3), operator_objects(value_conditions, children, sql_only)
        )
        field = st.tuples(PATHS, value_tests).map(lambda kv: {kv[0]: kv[1]})
        logic = [
            st.lists(children, max_size=3).map(lambda cs: {"$or": cs}),
            st.lists(children, max_size=3).map(lambda cs: {"$and": cs}),
            st.lists(children, max_size=3).map(lambda cs: {"$nor": cs}),
            children.map(lambda c: {"$not": c}),
            st.tuples(GROUP_IDS, st.one_of(st.none(), PATHS)).map(
                lambda g: {"$savedGroup": {"id": g[0], **({"attributeKey": g[1]} if g[1] else {})}}
            ),
            st.lists(st.one_of(field, children), min_size=2, max_size=3).map(
                lambda cs: {k: v for c in cs for k, v in c.items()}
            ),
        ]
        if not sql_only:
            logic += [
                st.sampled_from(
                    [
                        {"$or": 5},
                        {"$and": "x"},
                        {"$not": 3},
                        {"$or": [1]},
                        {"$or": {}},
                        {"$and": ""},
                    ]
                ),
                st.just({"$savedGroups": ["x"]}),
            ]
        return st.one_of(field, *logic)

    base = st.one_of(st.just({}), st.tuples(PATHS, SCALARS).map(lambda kv: {kv[0]: kv[1]}))
    return st.recursive(base, extend, max_leaves=6)


# ----------------------------------------------------------------------------- criteria

STRING_VALUES = st.one_of(st.none(), st.text(alphabet="aAbé ,/-", max_size=5))
CRITERION_STRINGS = st.text(alphabet="aAbé ,/", max_size=5)
DAY_NAMES = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
TIMES = st.builds(
    lambda h, m: f"{h:02d}:{m:02d}",
    st.integers(0, 23),
    st.sampled_from([0, 1, 14, 15, 29, 30, 44, 45, 59]),
)
SLOTS = st.builds(
    lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.sampled_from([0, 15, 30, 45])
)
POSITION_NAMES = st.sampled_from(list(POSITIONS))

#: criterion id -> (page value strategy, {operator: criterion value strategy})
CRITERIA_SPACE = {
    "page_title": (
        STRING_VALUES,
        {
            op: CRITERION_STRINGS
            for op in ["is", "is_not", "contains", "does_not_contain", "starts_with", "ends_with"]
        },
    ),
    "page_visit_count": (
        st.one_of(st.none(), st.integers(0, 4)),
        {op: st.integers(0, 4) for op in ["is", "gte", "lte"]},
    ),
    "visit_duration": (
        st.one_of(st.none(), st.integers(0, 100), st.just(2.5)),
        {op: st.sampled_from([0, 30, 2.5]) for op in ["gte", "lte"]},
    ),
    "chat_shown": (st.one_of(st.none(), st.booleans()), {"is": st.booleans()}),
    "day_of_week": (
        st.one_of(st.none(), st.sampled_from(DAY_NAMES)),
        {op: st.sampled_from(DAY_NAMES) for op in ["is", "gte", "lte"]},
    ),
    "time": (st.one_of(st.none(), TIMES), {op: SLOTS for op in ["is", "gte", "lte"]}),
    "hour": (
        st.one_of(st.none(), st.integers(0, 23)),
        {op: st.integers(0, 23) for op in ["is", "gte", "lte"]},
    ),
}

CUSTOM_VALUES = st.one_of(
    st.none(), st.integers(-1, 3), st.booleans(), st.sampled_from(["1", "x", " ", "true", "2.5"])
)
CRITERIA_SPACE["custom_v"] = (
    CUSTOM_VALUES,
    {
        "is": st.one_of(st.integers(-1, 3), st.booleans(), st.sampled_from(["1", "x", ""])),
        "gte": st.integers(-1, 3),
        "lte": st.integers(-1, 3),
        "contains": st.sampled_from(["1", "x", "tr"]),
        "is_not": st.sampled_from(["1", "x", ""]),
    },
)
ALL_OPERATORS = ["is_present", "is_not_present"]


@st.composite
def criteria_lists(draw):
    """One to three criteria over the ids of ``CRITERIA_SPACE``."""
    names = draw(st.lists(st.sampled_from(sorted(CRITERIA_SPACE)), min_size=1, max_size=3))
    criteria = []
    for name in names:
        _, operators = CRITERIA_SPACE[name]
        operator = draw(st.sampled_from(sorted(operators) + ALL_OPERATORS))
        item = {"criterion": name, "when": draw(POSITION_NAMES), "operator": operator}
        if operator in operators:
            item["value"] = draw(operators[operator])
        criteria.append(item)
    return criteria


#: a visit: zero to six pages, each with a value (or null, or nothing) for every id
VISITS = st.lists(
    st.fixed_dictionaries({}, optional={name: space[0] for name, space in CRITERIA_SPACE.items()}),
    max_size=6,
)


@st.composite
def criteria_cases(draw):
    """(criteria, pages): one to three criteria over one to six pages (or none)."""
    names = draw(st.lists(st.sampled_from(sorted(CRITERIA_SPACE)), min_size=1, max_size=3))
    criteria = []
    for name in names:
        _, operators = CRITERIA_SPACE[name]
        operator = draw(st.sampled_from(sorted(operators) + ALL_OPERATORS))
        item = {"criterion": name, "when": draw(POSITION_NAMES), "operator": operator}
        if operator in operators:
            item["value"] = draw(operators[operator])
        criteria.append(item)
    page_count = draw(st.integers(0, 6))
    pages = [
        {name: draw(CRITERIA_SPACE[name][0]) for name in set(names)} for _ in range(page_count)
    ]
    return criteria, pages
