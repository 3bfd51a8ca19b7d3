"""DuckDB errors are translated in one place: :func:`engage_lab.errors.translate_duckdb`."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest

import engage_lab
from engage_lab.errors import (
    DatabaseError,
    EngineError,
    LoadError,
    duckdb_message,
    translate_duckdb,
)

_MISSING_TABLE = "SELECT * FROM no_such_table"


def test_the_message_is_the_context_then_duckdbs_words():
    with (
        pytest.raises(DatabaseError) as caught,
        translate_duckdb(DatabaseError, "cannot read table no_such_table"),
    ):
        duckdb.connect().execute(_MISSING_TABLE)
    text = str(caught.value)
    assert text.startswith("cannot read table no_such_table: Catalog Error: ")
    assert "LINE 1" in text  # the whole of DuckDB's words
    assert isinstance(caught.value.__cause__, duckdb.CatalogException)


def test_first_line_drops_duckdbs_hints_and_sql_excerpt():
    with (
        pytest.raises(EngineError) as caught,
        translate_duckdb(EngineError, "reading", first_line=True),
    ):
        duckdb.connect().execute(_MISSING_TABLE)
    assert "\n" not in str(caught.value)
    assert str(caught.value).startswith("reading: Catalog Error: Table with name no_such_table")


def test_by_kind_names_whole_messages_for_particular_errors():
    closed = {duckdb.ConnectionException: lambda exc: "closed too early"}
    con = duckdb.connect()
    con.close()
    with (
        pytest.raises(EngineError, match=r"^closed too early$"),
        translate_duckdb(EngineError, "reading", by_kind=closed),
    ):
        con.execute("SELECT 1")
    with (
        pytest.raises(EngineError, match=r"^reading: Catalog Error"),
        translate_duckdb(EngineError, "reading", by_kind=closed),
    ):
        duckdb.connect().execute(_MISSING_TABLE)


def test_a_builder_makes_errors_that_carry_more_than_a_message():
    problems = ["a.jsonl:3: id: missing"]

    def build(words: str) -> LoadError:
        return LoadError([*problems, f"database error: {words}"], headline="refused:")

    with pytest.raises(LoadError) as caught, translate_duckdb(build, first_line=True):
        problems.append("b.jsonl:1: type: unknown")  # found after the block started
        duckdb.connect().execute(_MISSING_TABLE)
    assert caught.value.problems[:2] == problems
    assert caught.value.problems[2].startswith("database error: Catalog Error")


def test_other_errors_pass_through_untouched():
    with pytest.raises(KeyError), translate_duckdb(DatabaseError, "reading"):
        raise KeyError("x")
    with translate_duckdb(DatabaseError, "reading"):
        value = duckdb.connect().execute("SELECT 41 + 1").fetchone()[0]
    assert value == 42


def test_duckdb_message_first_non_blank_line():
    assert duckdb_message(duckdb.Error("\nBinder Error: x\nLINE 1"), first_line=True) == (
        "Binder Error: x"
    )
    assert duckdb_message(duckdb.Error("a\nb")) == "a\nb"


#: Where catching a DuckDB error is the answer sought, not a failure to translate: a regex
#: check (is the pattern valid in DuckDB's RE2?), the probes of data files (which lines
#: are bad?), the error of a read renamed from the open descriptor to the file's name (the
#: same error kind, re-raised), and a load's read error listed as its file's problem.
_PROBES = {
    "conditions/regex.py": 1,
    "data/files.py": 1,
    "data/loading.py": 1,
    "data/readers.py": 2,
    "errors.py": 1,
}


def test_duckdb_errors_are_caught_in_one_place():
    root = Path(engage_lab.__file__).parent
    found = {}
    for path in root.rglob("*.py"):
        count = len(re.findall(r"except\s*\(?\s*duckdb\.", path.read_text()))
        if count:
            found[path.relative_to(root).as_posix()] = count
    assert found == _PROBES
