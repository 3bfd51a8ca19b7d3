"""check_criteria and check_expression: every problem kind, with its JSON path and advice."""

from __future__ import annotations

import pytest

from engage_lab.conditions import check_criteria, check_expression, check_regex

P = "triggers[2].criteria"


def crit(**kw):
    return [{"criterion": "page_url", "operator": "contains", "value": "x", **kw}]


def test_valid_criteria_have_no_problem():
    criteria = [
        {"criterion": "page_url", "when": "previous", "operator": "contains", "value": "/cart/"},
        {"criterion": "custom_cart_amount", "when": "any", "operator": "gte", "value": 10},
        {"criterion": "day_of_week", "operator": "lte", "value": "Friday"},
        {"criterion": "time", "operator": "gte", "value": "07:15"},
        {"criterion": "hour", "operator": "is", "value": 23},
        {"criterion": "identity", "operator": "is_present"},
        {"criterion": "chat_shown", "operator": "is", "value": False},
        {"criterion": "page_visit_duration", "operator": "gte", "value": 30},
    ]
    assert check_criteria(criteria, {"custom_cart_amount": "number"}, P) == []


@pytest.mark.parametrize(
    ("criteria", "declared", "expected"),
    [
        (
            [{"criterion": "visit_count", "operator": "contains", "value": "1"}],
            None,
            f"{P}[0]: contains is not allowed on a number criterion; use is, is_present, is_not_present, gte or lte",
        ),
        (crit(criterion="page_urll"), None, f"{P}[0].criterion: unknown criterion 'page_urll'"),
        (
            crit(when="last"),
            None,
            f"{P}[0].when: unknown position 'last'; use one of current, previous",
        ),
        (
            crit(operator="like"),
            None,
            f"{P}[0].operator: unknown operator 'like'; use one of is, is_not",
        ),
        (
            crit(criterion="custom_cart", operator="gte", value=1),
            {"other": "number"},
            f"{P}[0].criterion: custom variable 'cart' is not declared; declare it in custom_variables",
        ),
        (
            crit(criterion="page_visit_duration", operator="is", value=30),
            None,
            f"{P}[0]: page_visit_duration grows with time, so it takes only gte or lte",
        ),
        (
            crit(criterion="visit_duration", operator="is_present", value=None),
            None,
            f"{P}[0]: visit_duration grows with time",
        ),
        (
            crit(criterion="visit_count", operator="gte", value="3"),
            None,
            f"{P}[0].value: '3' is not a number; write a number without quotes",
        ),
        (
            crit(criterion="identity", operator="is", value="true"),
            None,
            f"{P}[0].value: 'true' is not a boolean",
        ),
        (
            crit(criterion="day_of_week", operator="is", value="Funday"),
            None,
            f"{P}[0].value: 'Funday' is not a day; use one of Monday",
        ),
        (
            crit(criterion="time", operator="lte", value="7:15"),
            None,
            f"{P}[0].value: '7:15' is not a time; use HH:MM",
        ),
        (
            crit(criterion="time", operator="lte", value="24:00"),
            None,
            f"{P}[0].value: '24:00' is not a time",
        ),
        (
            crit(criterion="time", operator="gte", value="19:50"),
            None,
            f"{P}[0].value: 19:50 is not on a 15-minute slot; use 19:45 or 20:00",
        ),
        (
            crit(criterion="time", operator="gte", value="23:50"),
            None,
            f"{P}[0].value: 23:50 is not on a 15-minute slot; use 23:45",
        ),
        (
            crit(criterion="hour", operator="is", value=24),
            None,
            f"{P}[0].value: 24 is not an hour; use a whole number from 0 to 23",
        ),
        (
            crit(criterion="hour", operator="is", value=7.5),
            None,
            f"{P}[0].value: 7.5 is not an hour",
        ),
        (crit(value=3), None, f"{P}[0].value: 3 is not a string"),
        (
            crit(operator="is_present", value="x"),
            None,
            f"{P}[0].value: is_present takes no value; remove it",
        ),
        ([{"criterion": "page_url", "operator": "is"}], None, f"{P}[0].value: is needs a value"),
        (crit(valeu=1), None, f"{P}[0]: unknown key 'valeu'"),
        (["page_url"], None, f"{P}[0]: a criterion must be an object"),
        (
            crit(criterion="custom_cart", operator="is", value="x"),
            {"cart": "money"},
            f"{P}[0].criterion: custom variable type 'money' is not string, number or boolean",
        ),
    ],
)
def test_criteria_problem(criteria, declared, expected):
    problems = check_criteria(criteria, declared, P)
    assert len(problems) == 1, problems
    assert problems[0].startswith(expected), problems[0]


def test_all_criteria_problems_are_listed():
    criteria = [
        {"criterion": "nope", "operator": "is", "value": "x"},
        {"criterion": "page_title", "when": "never", "operator": "starts_with", "value": "a"},
        {"criterion": "visit_count", "operator": "ends_with", "value": "a"},
    ]
    problems = check_criteria(criteria, None, P)
    assert [p.split(":")[0] for p in problems] == [f"{P}[0].criterion", f"{P}[1].when", f"{P}[2]"]


def test_custom_declaration_with_or_without_prefix():
    c = [{"criterion": "custom_cart_amount", "operator": "gte", "value": 1}]
    assert check_criteria(c, {"custom_cart_amount": "number"}, P) == []
    assert check_criteria(c, {"cart_amount": "number"}, P) == []
    assert check_criteria(c, {"cart_amount": "string"}, P)[0].startswith(
        f"{P}[0]: gte is not allowed on a string"
    )


def test_criteria_not_a_list():
    assert check_criteria({"criterion": "page_url"}, None, P) == [
        f"{P}: criteria must be a list of {{criterion, when, operator, value}} objects"
    ]


E = "triggers[0].expression"


@pytest.mark.parametrize(
    ("expr", "groups", "expected"),
    [
        (
            {"page.url": {"$regx": "a"}},
            None,
            f'{E}["page.url"].$regx: unknown operator $regx; use one of $eq',
        ),
        (
            {"$xor": []},
            None,
            f"{E}.$xor: unknown operator $xor; use $or, $nor, $and, $not or $savedGroup",
        ),
        (
            {"page.url": {"$regex": "a(?=b)"}},
            None,
            f'{E}["page.url"].$regex: a(?=b) is not accepted by RE2',
        ),
        (
            {"page.url": {"$regexi": "(a)\\1"}},
            None,
            f'{E}["page.url"].$regexi: (a)\\1 is not accepted by RE2',
        ),
        (
            {"page.url": {"$notRegex": "a*+"}},
            None,
            f'{E}["page.url"].$notRegex: a*+ is not accepted by RE2',
        ),
        (
            {"page.url": {"$regex": "[a"}},
            None,
            f'{E}["page.url"].$regex: [a does not compile in RE2 (missing ]: [a)',
        ),
        (  # the Python binding's newer RE2 reads named groups so; DuckDB's does not
            {"page.url": {"$regex": "(?<n>a)"}},
            None,
            f'{E}["page.url"].$regex: (?<n>a) is not accepted by RE2 (invalid perl operator',
        ),
        (  # RE2 reads \pL, Python does not: a configuration also suits the Python SDK
            {"page.url": {"$regex": "\\pL"}},
            None,
            f'{E}["page.url"].$regex: \\pL does not compile in Python',
        ),
        (  # RE2 reads a POSIX class, Python a set holding [ : a l p h
            {"page.url": {"$regex": "[[:alpha:]]"}},
            None,
            f'{E}["page.url"].$regex: [[:alpha:]] reads differently in Python',
        ),
        ({"page.url": {"$regex": "a{,3}"}}, None, f'{E}["page.url"].$regex: a{{,3}} uses {{,n}}'),
        (
            {"page.duration": {"$eq": 5}},
            None,
            f'{E}["page.duration"]: page.duration grows with time, so it takes only $gt, $gte, $lt or $lte',
        ),
        ({"visit.duration": 5}, None, f'{E}["visit.duration"]: visit.duration grows with time'),
        (
            {"visit.duration": {"$not": {"$gt": 5}}},
            None,
            f'{E}["visit.duration"]: visit.duration grows with time',
        ),
        (
            {"visitor.id": {"$inGroup": "vip"}},
            {"other": []},
            f"{E}[\"visitor.id\"].$inGroup: unknown saved group 'vip'",
        ),
        (
            {"visitor.id": {"$notInGroup": 3}},
            {},
            f'{E}["visitor.id"].$notInGroup: $notInGroup takes a saved group id',
        ),
        ({"$savedGroup": {"id": "g"}}, {}, f"{E}.$savedGroup.id: unknown saved group 'g'"),
        ({"$savedGroup": "g"}, {}, f"{E}.$savedGroup: $savedGroup takes"),
        (
            {"father.age": {"$gt": 3}},
            None,
            f"{E}[\"father.age\"]: unknown attribute 'father.age'; attributes start with chat.*",
        ),
        (
            {"page.titel": "x"},
            None,
            f"{E}[\"page.titel\"]: unknown attribute 'page.titel'; page has page.url",
        ),
        (
            {"page.count": {"$gt": "3"}},
            None,
            f'{E}["page.count"].$gt: the attribute is a number; compare it with a number',
        ),
        (
            {"page.count": {"$gt": True}},
            None,
            f'{E}["page.count"].$gt: $gt compares only numbers or strings',
        ),
        ({"page.url": {"$in": "a"}}, None, f'{E}["page.url"].$in: $in takes a list of values'),
        ({"vars.x": {"$exists": 1}}, None, f'{E}["vars.x"].$exists: $exists takes true or false'),
        ({"vars.x": {"$type": "int"}}, None, f"{E}[\"vars.x\"].$type: unknown type 'int'"),
        ({"vars.x": {"$or": []}}, None, f'{E}["vars.x"].$or: $or combines conditions'),
        ({"$or": {"a": 1}}, None, f"{E}.$or: $or takes a list of conditions"),
        ({"$and": [3]}, None, f"{E}.$and[0]: a condition must be a JSON object"),
        (
            {"vars.v": {"$vgt": 1}},
            None,
            f'{E}["vars.v"].$vgt: $vgt compares versions; write the version as a string',
        ),
        (
            {"visit.urls": {"$elemMatch": {"$regex": "(?!x)"}}},
            None,
            f'{E}["visit.urls"].$elemMatch.$regex: (?!x) is not accepted by RE2',
        ),
        ({"vars": 1}, None, f"{E}.vars: vars takes a custom variable name"),
    ],
)
def test_expression_problem(expr, groups, expected):
    problems = check_expression(expr, groups, E)
    assert len(problems) == 1, problems
    assert problems[0].startswith(expected), problems[0]


def test_valid_expressions_have_no_problem():
    groups = {"vip": ["v1"], "cond": {"type": "condition", "condition": {"page.count": 1}}}
    expr = {
        "$or": [
            {"page.path": {"$regex": "^/cart/[0-9]+$"}},
            {"visit.urls": {"$elemMatch": {"$regexi": "checkout"}}},
            {"visit.urls.length": {"$gte": 3}},
            {"visitor.id": {"$inGroup": "vip"}},
            {"$savedGroup": {"id": "cond"}},
        ],
        "page.duration": {"$gte": 30, "$lt": 600},
        "vars.cart_amount": {"$gt": 10},
        "$not": {"chat.shown": True},
        "time.day_of_week": {"$in": ["Saturday", "Sunday"]},
    }
    assert check_expression(expr, groups, E) == []


def test_all_expression_problems_are_listed():
    expr = {"page.url": {"$regx": "a", "$regex": "(?=a)"}, "$or": [{"x.y": 1}]}
    assert len(check_expression(expr, None, E)) == 3


def test_elem_match_fields_are_free():
    assert check_expression({"visit.urls": {"$elemMatch": {"anything": 1}}}, None, E) == []


def test_check_regex_accepts_the_common_subset():
    for pattern in ["^/a", "(?i)x", "[a-z]+\\d{2,3}$", "(?P<n>x)", "a|b"]:
        assert check_regex(pattern) is None, pattern
    assert check_regex(5).startswith("5 is not a string")
