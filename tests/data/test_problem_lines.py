"""Every problem of a file with its right line: long lines, deep values, bytes, CSV.

Each refused load lists every bad line (not only the first, not a DuckDB error without
a line) and leaves the database as it was.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

import engage_lab as el
from engage_lab.cli import main
from engage_lab.data import lines
from engage_lab.data.lines import MAX_LINE_BYTES, LineScan, csv_record_lines
from engage_lab.data.readers import json_syntax_problem
from engage_lab.errors import MAX_LISTED_PROBLEMS
from tests.data.conftest import db_digest, write_jsonl

AGENT = {"type": "agent", "id": "a9", "soft_limit": 2}
BAD_AGENT = '{"type": "agent", "id": "a8", "soft_limit": "two"}'
PV = {
    "type": "page_view",
    "id": "pv9",
    "visitor_id": "v1",
    "started_at": "2026-03-03T10:00:00Z",
    "url": "https://shop.example/a",
}


def refused(lab: el.Lab, *paths) -> el.LoadError:
    before = db_digest(lab)
    with pytest.raises(el.LoadError) as info:
        lab.load(*paths, progress=False)
    assert db_digest(lab) == before, "a refused load changed the database"
    return info.value


def where(problems: list[str]) -> list[str]:
    """``file:line: field`` of each problem."""
    return [": ".join(p.split(": ")[:2]) for p in problems]


# -- long lines ----------------------------------------------------------------------


def test_jsonl_line_over_duckdbs_default_size_loads(tmp_path, lab):
    title = "x" * (3 << 20)  # DuckDB's readers stop at 2 MiB by default
    path = write_jsonl(tmp_path / "long.jsonl", [AGENT, dict(PV, title=title)])
    lab.load(path, progress=False)
    (stored,) = lab.con.execute("SELECT length(title) FROM page_views").fetchone()
    assert stored == len(title)


def test_jsonl_line_over_the_limit_is_named_and_the_others_still_checked(tmp_path, loaded):
    huge = json.dumps(dict(PV, id="pv8", title="y" * (MAX_LINE_BYTES + 10)))
    path = write_jsonl(tmp_path / "long.jsonl", [AGENT, huge, BAD_AGENT, dict(PV, title=5)])
    error = refused(loaded, path)
    assert where(error.problems) == [
        "long.jsonl:2: record",
        "long.jsonl:3: agent.soft_limit",
        "long.jsonl:4: page_view.title",
    ]
    assert error.problems[0] == (
        f"long.jsonl:2: record: JSON Lines line longer than {MAX_LINE_BYTES:,} bytes: not read"
    )


def test_csv_line_over_the_limit_is_named(tmp_path, loaded):
    path = tmp_path / "agents.csv"
    path.write_text(f"id,name,soft_limit\na8,Al,1\na9,{'z' * (MAX_LINE_BYTES + 1)},2\n")
    error = refused(loaded, path)
    assert error.problems == [
        f"agents.csv:3: record: CSV line longer than {MAX_LINE_BYTES:,} bytes: the file is not read"
    ]


# -- values nested deep -----------------------------------------------------------------

DEPTH = 100_000
PV_OPEN = '{"type": "page_view", "id": "pv8", "visitor_id": "v1", ' + (
    '"started_at": "2026-03-03T10:00:00Z", "url": "https://shop.example/b"'
)
DEEP_CASES = [
    ("title", PV_OPEN + ', "title": ' + "[" * DEPTH + "]" * DEPTH + "}",
     "page_view.title", "expected a string, got list [[[["),
    ("placeholders", PV_OPEN + ', "placeholders": ' + "[" * DEPTH + "]" * DEPTH + "}",
     "page_view.placeholders", "not a list of strings: [[[["),
    ("value", '{"type": "var_change", "id": "vc8", "page_view_id": "pv1", "name": "custom_a", '
     '"changed_at": "2026-03-02T09:01:00Z", "value": ' + '{"a": ' * DEPTH + "1" + "}" * DEPTH
     + "}", "var_change.value", "expected a string, number, boolean or null, got object"),
    ("line", "[" * DEPTH + "]" * DEPTH, "record", "not a JSON object (array)"),
    ("type", '{"type": ' + "[" * DEPTH + "]" * DEPTH + "}", "type", "expected a string, got"),
    ("unclosed", PV_OPEN + ', "title": ' + "[" * DEPTH + "}", "record", "malformed JSON"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("line", "field", "fragment"), [c[1:] for c in DEEP_CASES], ids=[c[0] for c in DEEP_CASES]
)
def test_value_nested_deep_is_named_with_its_line(tmp_path, loaded, line, field, fragment):
    path = write_jsonl(tmp_path / "deep.jsonl", [AGENT, line, BAD_AGENT])
    error = refused(loaded, path)
    assert f"deep.jsonl:2: {field}" in where(error.problems)
    mine = [p for p in error.problems if p.startswith(f"deep.jsonl:2: {field}: ")]
    assert fragment in mine[0] and len(mine[0]) < 300, mine
    assert "deep.jsonl:3: agent.soft_limit" in where(error.problems)


def test_malformed_line_nested_too_deep_says_so():
    message = json_syntax_problem('{"a": ' + "[" * DEPTH + "}")
    assert message == f"malformed JSON: nested {DEPTH + 1:,} levels deep (a record needs 2)"


# -- bytes that are not UTF-8, and the line reader's delimiter -----------------------------


def test_non_utf8_lines_are_each_named_and_hide_no_other_problem(tmp_path, loaded):
    path = tmp_path / "bytes.jsonl"
    path.write_bytes(
        json.dumps(AGENT).encode() + b"\n"
        + b'{"type": "agent", "id": "a\xff", "soft_limit": 1}\n'
        + BAD_AGENT.encode() + b"\n"
        + b'{"type": "agent", "id": "a7", "name": "\xc3", "soft_limit": 1}\n'
        + b'{"type": "agent", "id": "a6", "soft_limit": 1\n'
        + b'{"type": "agent", "id": "a5",\x01 "soft_limit": 1}\n'
    )  # fmt: skip
    error = refused(loaded, path)
    assert where(error.problems) == [
        "bytes.jsonl:2: encoding",
        "bytes.jsonl:3: agent.soft_limit",
        "bytes.jsonl:4: encoding",
        "bytes.jsonl:5: record",
        "bytes.jsonl:6: record",
    ]
    assert error.problems[-1] == "bytes.jsonl:6: record: malformed JSON: control byte 0x01"


def test_non_utf8_csv_line_hides_no_other_problem(tmp_path, loaded):
    path = tmp_path / "agents.csv"
    path.write_bytes(b'id,name,soft_limit\na7,Al,1\na8,"B\xe9a",2\na9,Cy,two\n')
    error = refused(loaded, path)
    assert where(error.problems) == ["agents.csv:3: encoding", "agents.csv:4: agent.soft_limit"]


def test_many_non_utf8_lines_are_all_counted(tmp_path, lab):
    path = tmp_path / "bytes.jsonl"
    path.write_bytes(b'{"type": "agent", "id": "a\xff", "soft_limit": 1}\n' * 1500)
    error = refused(lab, path)
    assert error.total == 1500
    assert where(error.problems)[-1] == "bytes.jsonl:1500: encoding"


# -- CSV: physical line numbers ----------------------------------------------------------


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_csv_lines_after_quoted_newlines_and_blank_lines_are_physical(tmp_path, loaded, newline):
    rows = ["id,name,soft_limit", 'a5,"Ana', 'Maria",1', "", "a6,Bo,two", 'a7,"C', "", 'D",-1']
    path = tmp_path / "agents.csv"
    path.write_bytes(newline.join([*rows, "a8,E,x", ""]).encode())
    error = refused(loaded, path)
    assert where(error.problems) == [
        "agents.csv:5: agent.soft_limit",
        "agents.csv:6: agent.soft_limit",
        "agents.csv:9: agent.soft_limit",
    ]


def test_csv_reader_error_after_quoted_newline_names_the_physical_line(tmp_path, loaded):
    path = tmp_path / "agents.csv"
    path.write_text('id,name,soft_limit\na5,"Ana\nMaria\n",1\n\na6,Bo,1,extra\n')
    error = refused(loaded, path)
    assert where(error.problems) == ["agents.csv:6: record"]
    assert "Expected Number of Columns" in error.problems[0]


def test_csv_records_spanning_lines_are_stored_with_their_first_line(tmp_path, lab):
    path = tmp_path / "agents.csv"
    path.write_text('id,name,soft_limit\na1,"Ana\n\nMaria",1\n\na2,Bo,2\na3,"C\nD",3\na4,E,4\n')
    lab.load(path, progress=False)
    stored = lab.con.execute("SELECT agent_id, load_line FROM agents ORDER BY 1").fetchall()
    assert stored == [("a1", 2), ("a2", 6), ("a3", 7), ("a4", 9)]


def _reference_record_lines(data: bytes) -> tuple[list[int], list[int]]:
    """Record starts of a CSV text, line by line (quotes ``"`` and ``""``)."""
    physical = data.split(b"\n")
    if physical[-1] == b"":
        physical.pop()
    starts, kept, inside = [], [], False
    for number, line in enumerate(physical, start=1):
        if not inside:
            starts.append(number)
            if line not in (b"", b"\r"):
                kept.append(number)
        inside ^= line.count(b'"') % 2 == 1
    return starts, kept


def _reference_other_line_end(data: bytes) -> int | None:
    """The first line ending a record whose end ("\\r\\n" or "\\n") differs from the first's."""
    ended = data.split(b"\n")[:-1]  # the lines a "\\n" ends
    first, inside = None, False
    for number, line in enumerate(ended, start=1):
        inside ^= line.count(b'"') % 2 == 1
        if inside:
            continue
        kind = line.endswith(b"\r")
        first = kind if first is None else first
        if kind != first:
            return number
    return None


def _reference_lone_return(data: bytes) -> int | None:
    """The line of the first "\\r" outside quotes followed by a byte other than "\\n"."""
    inside, line = False, 1
    for at, byte in enumerate(data):
        if byte == ord('"'):
            inside = not inside
        elif byte == ord("\n"):
            line += 1
        elif byte == ord("\r") and not inside and at + 1 < len(data) and data[at + 1] != ord("\n"):
            return line
    return None


@pytest.mark.parametrize("seed", range(5))
def test_record_lines_and_line_scan_agree_with_a_line_by_line_reading(tmp_path, monkeypatch, seed):
    rng = random.Random(seed)
    monkeypatch.setattr(lines, "MAX_LINE_BYTES", 4)
    path = tmp_path / "r.csv"
    pieces = [b"a", b'"', b"\n", b"\r\n", b",", b'""', b"\n\n", b"bc", b"\r"]
    for _ in range(60):
        data = b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 50)))
        path.write_bytes(data)
        starts, kept = _reference_record_lines(data)
        count = len(data.split(b"\n")) - (data.endswith(b"\n") or not data)
        physical = data.split(b"\n")[:count]
        long = [n for n, line in enumerate(physical, start=1) if len(line) > 4]
        other_end = _reference_other_line_end(data)
        lone_return = _reference_lone_return(data)
        for chunk in (1, 3, 7, 1 << 20):  # records and quotes across chunk boundaries
            monkeypatch.setattr(lines, "_CHUNK", chunk)
            got = csv_record_lines(path)
            assert (got[0].tolist(), got[1].tolist()) == (starts, kept), (data, chunk)
            scan = LineScan(csv=True)
            for at in range(0, len(data), chunk):
                scan.feed(data[at : at + chunk])
            scan.finish()
            assert (scan.lines, scan.long_lines) == (count, long), (data, chunk)
            assert scan.first_other_line_end == other_end, (data, chunk)
            assert scan.first_lone_return == lone_return, (data, chunk)
            if starts != list(range(1, count + 1)) or kept != starts:
                assert scan.csv_irregular, (data, chunk)


def test_line_scan_finds_long_lines_across_chunks(monkeypatch):
    monkeypatch.setattr(lines, "MAX_LINE_BYTES", 5)
    scan = LineScan()
    for chunk in (b"abc\nabcdef\nab", b"cdefgh", b"\nabcde\n", b"123456"):
        scan.feed(chunk)
    scan.finish()
    assert scan.long_lines == [2, 3, 5]


# -- how many problems -------------------------------------------------------------------


def _bad_page_views(count: int) -> list[dict]:
    return [dict(PV, id=f"p{n}", started_at=1_772_442_300) for n in range(count)]


def test_problem_count_is_the_true_total(tmp_path, lab):
    error = refused(lab, write_jsonl(tmp_path / "seconds.jsonl", _bad_page_views(30_000)))
    assert error.total == 30_000
    shown = str(error).splitlines()
    assert shown[-1] == f"... and {30_000 - MAX_LISTED_PROBLEMS:,} more problems"
    assert len(shown) == 1 + MAX_LISTED_PROBLEMS + 1  # headline, problems, count


def test_cli_shows_twenty_problems_and_the_total(tmp_path, capsys):
    path = write_jsonl(tmp_path / "seconds.jsonl", _bad_page_views(30_000))
    db = tmp_path / "c.duckdb"
    assert main(["load", str(path), "--db", str(db)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].endswith("and 29,980 more problems")
    listed = [line for line in err if line.startswith("seconds.jsonl:")]
    assert [line.split(":")[1] for line in listed] == [str(n) for n in range(1, 21)]


def test_malformed_lines_beyond_those_explained_are_counted(tmp_path, lab):
    path = tmp_path / "broken.jsonl"
    path.write_text('{"type": "agent", "id": \n' * 12_000)
    error = refused(lab, path)
    assert error.total == 12_000
    assert str(error).endswith("... and 11,980 more problems")


def test_problems_of_several_files_are_counted_together(tmp_path, lab):
    write_jsonl(tmp_path / "a.jsonl", _bad_page_views(30))
    write_jsonl(tmp_path / "b.jsonl", [BAD_AGENT] * 5)
    (tmp_path / "c.txt").write_text("not data")
    error = refused(lab, tmp_path / "a.jsonl", tmp_path / "b.jsonl", Path(tmp_path / "c.txt"))
    assert error.total == 36 and len(error.problems) == 36
    assert str(error).endswith("... and 16 more problems")


def test_csv_line_over_duckdbs_default_size_loads(tmp_path, lab):
    path = tmp_path / "agents.csv"
    path.write_text(f"id,name,soft_limit\na1,{'n' * (3 << 20)},1\n")
    lab.load(path, progress=False)
    (stored,) = lab.con.execute("SELECT length(name) FROM agents").fetchone()
    assert stored == 3 << 20


def test_a_line_duckdb_still_refuses_is_named_as_json_lines(tmp_path, loaded, monkeypatch):
    from engage_lab.data import readers

    # As if the byte pass had missed a line DuckDB's reader cannot take.
    monkeypatch.setattr(readers, "READER_MAX_LINE_SIZE", 4096)
    path = write_jsonl(tmp_path / "long.jsonl", [AGENT, dict(PV, title="t" * 10_000)])
    error = refused(loaded, path)
    assert len(error.problems) == 1
    assert error.problems[0].startswith("long.jsonl:2: record: JSON Lines line not readable: ")
    assert "CSV" not in error.problems[0]


# -- line ends -----------------------------------------------------------------------------


def test_jsonl_with_mixed_line_ends_is_read_line_by_line(tmp_path, loaded):
    agent = json.dumps(AGENT).encode()
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(
        agent + b"\r\n" + BAD_AGENT.encode() + b"\n\n"
        + b'{"type": "agent",\r"id": "a7", "soft_limit": "y"}\r\n'
        + b'{"type": "agent", "id": "a\r6", "soft_limit": 1}\n'
        + b'{"type": "agent", "id": "a5", "soft_limit": 1}\r\n'
    )  # fmt: skip
    error = refused(loaded, path)
    assert where(error.problems) == [
        "mixed.jsonl:2: agent.soft_limit",
        "mixed.jsonl:4: agent.soft_limit",
        "mixed.jsonl:5: record",
    ]
    assert "malformed JSON at column 27: a raw control character" in error.problems[2]


@pytest.mark.parametrize("newline", [b"\r\n", b"\n"])
def test_jsonl_with_one_kind_of_line_end_and_a_return_between_tokens_loads(tmp_path, lab, newline):
    path = tmp_path / "agents.jsonl"
    lines_ = [json.dumps(AGENT).encode(), b'{"type": "agent",\r"id": "a8", "soft_limit": 1}']
    path.write_bytes(newline.join(lines_) + newline)
    lab.load(path, progress=False)
    stored = lab.con.execute("SELECT agent_id, load_line FROM agents ORDER BY 1").fetchall()
    assert stored == [("a8", 2), ("a9", 1)]


def test_csv_with_mixed_line_ends_names_the_first_line_that_differs(tmp_path, loaded):
    path = tmp_path / "agents.csv"
    path.write_bytes(b'id,name,soft_limit\r\na5,"An\na",1\r\na6,Bo,2\na7,Cy,3\r\n')
    error = refused(loaded, path)
    assert error.problems == [
        "agents.csv:4: record: CSV line ends mix \\r\\n and \\n (DuckDB reads one kind; "
        "save the file with one)"
    ]


# -- bounded work ------------------------------------------------------------------------------

_BOUNDED_LOAD = """
import resource, sys
limit = int(sys.argv[3]) << 20
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
import engage_lab as el
with el.open(sys.argv[1]) as lab:
    try:
        lab.load(sys.argv[2], progress=False)
    except el.LoadError as error:
        print(error)
"""


def test_hostile_lines_load_within_bounded_time_and_memory(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "hostile.jsonl"
    with path.open("w", encoding="utf-8") as fh:
        fh.write(json.dumps(AGENT) + "\n")
        fh.write('{"type": "agent", "id": "a1", "name": "' + "n" * (4 * MAX_LINE_BYTES) + '"}\n')
        fh.write(DEEP_CASES[0][1] + "\n")
        fh.write('{"type": "visitor", "id": "v9", "clock_offset_ms": 9000000000000000000}\n')
        fh.write(json.dumps(dict(PV, id="pv7", started_at="9999-12-31T23:59:59Z")) + "\n")
    result = subprocess.run(
        [sys.executable, "-c", _BOUNDED_LOAD, str(tmp_path / "h.duckdb"), str(path), "2048"],
        capture_output=True,
        text=True,
        timeout=300,  # generous: the load takes seconds
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert where(result.stdout.splitlines()[1:]) == [
        "hostile.jsonl:2: record",
        "hostile.jsonl:3: page_view.title",
        "hostile.jsonl:4: visitor.clock_offset_ms",
        "hostile.jsonl:5: page_view.started_at",
    ]


def test_csv_with_a_return_outside_quotes_names_its_line(tmp_path, loaded):
    path = tmp_path / "agents.csv"
    path.write_bytes(b'id,name,soft_limit\na5,"An\ra",1\na6,B\ro,2\n')
    error = refused(loaded, path)
    assert where(error.problems) == ["agents.csv:3: record"]
    assert "carriage return" in error.problems[0]
