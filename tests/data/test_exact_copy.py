"""Exact paths and readable copies together: a copy is made from, and named as, the file.

A file with lines the readers cannot read is read through a readable copy; the copy is
written from the file opened by :func:`exact_path` (so a name with ``*`` brings no
neighbour in, and a change since hashing is refused), its problems name the file, and
CSV line numbers are counted in the file opened the same way.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import duckdb
import pytest

import engage_lab as el
from engage_lab.data import files, loading
from tests.data.conftest import db_digest, write_jsonl

AGENT = '{"type": "agent", "id": "%s", "soft_limit": 2}'


def _refused(lab: el.Lab, path: Path) -> list[str]:
    before = db_digest(lab)
    with pytest.raises(el.LoadError) as info:
        lab.load(path, progress=False)
    assert db_digest(lab) == before, "a refused load changed the database"
    return info.value.problems


def _where(problems: list[str]) -> list[str]:
    return [": ".join(p.split(": ")[:2]) for p in problems]


def test_a_patterned_name_with_a_non_utf8_line_reads_its_own_lines(tmp_path, lab):
    path = tmp_path / "pv*.jsonl"
    path.write_bytes(
        (AGENT % "a1").encode()
        + b"\n"
        + b'{"id": "\xff"}\n'
        + b'{"type": "agent", "id": 3, "soft_limit": 1}\n'
    )
    write_jsonl(tmp_path / "pvSECRET.jsonl", ["not json"])  # a glob would read it too
    problems = _refused(lab, path)
    assert _where(problems) == ["pv*.jsonl:2: encoding", "pv*.jsonl:3: agent.id"], problems
    assert not any("/fd/" in p or "engage-lab-load-" in p for p in problems)


def test_a_patterned_name_with_mixed_line_ends_loads_alone(tmp_path, lab):
    path = tmp_path / "ag[1].jsonl"
    path.write_bytes((AGENT % "a1").encode() + b"\r\n" + (AGENT % "a2").encode() + b"\n")
    write_jsonl(tmp_path / "ag1.jsonl", [{"type": "agent", "id": "intruder", "soft_limit": 1}])
    report = lab.load(path, progress=False)
    assert sorted(lab.sql("select agent_id from agents")["agent_id"]) == ["a1", "a2"]
    (digest,) = lab.con.execute("SELECT digests FROM loads").fetchone()
    assert hashlib.sha256(path.read_bytes()).hexdigest() in str(digest), (digest, report)


def test_a_file_changed_between_hashing_and_copying_is_refused(tmp_path, lab, monkeypatch):
    path = tmp_path / "agents.jsonl"
    path.write_bytes((AGENT % "a1").encode() + b"\n" + b'{"id": "\xfe"}\n')
    real_prepass = loading.prepass

    def prepass_then_append(source):
        found = real_prepass(source)
        with path.open("ab") as fh:  # another writer, before the copy is made
            fh.write((AGENT % "sneaked").encode() + b"\n")
        return found

    monkeypatch.setattr(loading, "prepass", prepass_then_append)
    problems = _refused(lab, path)
    assert problems == [
        "agents.jsonl:1: file: file changed while it was loaded (the digest would not cover "
        "what was read); load it again"
    ]


def test_csv_lines_after_a_quoted_newline_in_a_patterned_name(tmp_path, lab):
    path = tmp_path / "agents.*.csv"
    path.write_text('id,soft_limit,name\na1,2,"Ana\nMaria"\na2,two,Bo\n', encoding="utf-8")
    (tmp_path / "agents.B.csv").write_text("id,soft_limit\nb1,oops\nb2,oops\n", encoding="utf-8")
    problems = _refused(lab, path)
    assert _where(problems) == ["agents.*.csv:4: agent.soft_limit"], problems


def test_csv_non_utf8_copy_keeps_physical_lines(tmp_path, lab):
    path = tmp_path / "agents.?.csv"
    path.write_bytes(b'id,soft_limit,name\na1,2,"A\nB"\na2,2,\xff\na3,x,C\n')
    (tmp_path / "agents.X.csv").write_text("id,soft_limit\nx1,bad\n", encoding="utf-8")
    problems = _refused(lab, path)
    assert _where(problems) == ["agents.?.csv:4: encoding", "agents.?.csv:5: agent.soft_limit"]


def test_exact_path_reads_the_copy_without_checking_it(tmp_path):
    path = tmp_path / "a*.jsonl"
    path.write_bytes(b'{"a": 1}\n')
    source = files.SourceFile(path, 1, "jsonl")
    copy = tmp_path / "copy.jsonl"
    copy.write_bytes(b'{"a": 2}\n')
    with files.exact_path(source):
        pass  # the file's identity is noted
    source.read_path = copy
    copy.write_bytes(b'{"a": 22}\n')  # ours to change: no identity is kept for it
    with files.exact_path(source) as name:
        assert Path(name).read_bytes() == b'{"a": 22}\n'
    path.write_bytes(b'{"a": 333}\n')  # the file is not opened while its copy is read
    with files.exact_path(source) as name:
        assert Path(name).read_bytes() == b'{"a": 22}\n'


def test_a_duckdb_error_on_a_changed_file_says_it_changed(tmp_path):
    path = tmp_path / "agents.jsonl"
    path.write_bytes(b"x\n")
    source = files.SourceFile(path, 1, "jsonl")
    changed = pytest.raises(files.FileReadError, match="changed while it was loaded")
    with changed as info, files.exact_path(source) as name:
        with path.open("ab") as fh:
            fh.write(b"more\n")
        os.utime(path, ns=(1, 1))
        duckdb.connect().execute("SELECT * FROM read_parquet(?)", [name]).fetchall()
    assert isinstance(info.value.__cause__, duckdb.Error)
