"""Reads started ahead: the same results as reading at once, errors where they are taken."""

from __future__ import annotations

import duckdb
import pytest

from engage_lab.engine.ahead import Ahead


@pytest.fixture
def con():
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT range AS x FROM range(1000)")
    yield con
    con.close()


def _total(c: duckdb.DuckDBPyConnection) -> int:
    return c.execute("SELECT sum(x) FROM t").fetchall()[0][0]


def test_started_kept_and_unstarted_reads_give_the_same_results(con):
    with Ahead(con) as ahead:
        ahead.start("a", _total)
        ahead.later("b", _total)
        assert ahead.started("a") and not ahead.started("b")
        ahead.go()
        assert ahead.started("b")
        assert ahead.take("a", _total) == ahead.take("b", _total) == _total(con) == 499500
        assert not ahead.started("a")
        assert ahead.take("a", lambda c: "again, at once") == "again, at once"


def test_a_kept_read_not_started_runs_when_taken(con):
    with Ahead(con) as ahead:
        ahead.later("b", lambda c: 1 / 0)  # never started: take runs the given read
        assert ahead.take("b", _total) == 499500


def test_an_error_of_a_background_read_is_raised_by_take(con):
    with Ahead(con) as ahead:
        ahead.start("bad", lambda c: c.execute("SELECT * FROM missing_table").fetchall())
        with pytest.raises(duckdb.CatalogException, match="missing_table"):
            ahead.take("bad", _total)


def test_close_drops_what_was_not_taken_and_the_connection_stays_usable(con):
    ahead = Ahead(con)
    ahead.start("a", _total)
    ahead.later("b", _total)
    ahead.close()
    assert not ahead.started("a") and not ahead.started("b")
    assert _total(con) == 499500
    ahead.start("c", _total)  # usable again after close
    assert ahead.take("c", _total) == 499500
    ahead.close()
