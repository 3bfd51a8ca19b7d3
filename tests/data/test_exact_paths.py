"""A path is a path: the loader reads exactly the files named, never a pattern.

DuckDB's readers take ``*``, ``?``, ``[...]`` and ``**`` in a file name as a pattern; a
file or folder literally named so must not bring its neighbours in, and the ``loads``
digest must be the sha256 of the bytes read.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import engage_lab as el
from engage_lab.data import files, loading
from tests.data.conftest import db_digest, write_jsonl


def _agents(*ids: str) -> list[dict]:
    return [{"type": "agent", "id": i, "soft_limit": 2} for i in ids]


def _write(path: Path, fmt: str, ids: tuple[str, ...]) -> Path:
    """Agents ``ids`` in ``path`` as JSON Lines, CSV or Parquet."""
    if fmt == "jsonl":
        return write_jsonl(path, _agents(*ids))
    if fmt == "csv":
        path.write_text("id,soft_limit\n" + "".join(f"{i},2\n" for i in ids), encoding="utf-8")
        return path
    pq.write_table(pa.table({"id": list(ids), "soft_limit": [2] * len(ids)}), path)
    return path


def _stored(lab: el.Lab) -> list[str]:
    return sorted(lab.sql("select agent_id from agents")["agent_id"])


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# (named file, neighbours a pattern would match): JSON Lines take any name; CSV and
# Parquet name their table before the first dot.
NAMES = {
    "jsonl": [
        ("pv*.jsonl", ["pvSECRET.jsonl", "pv.jsonl"]),
        ("pv[1].jsonl", ["pv1.jsonl"]),
        ("pv?.jsonl", ["pvX.jsonl"]),
        ("**.jsonl", ["other.jsonl"]),
        ("pv[!a].jsonl", ["pvb.jsonl"]),
    ],
    "csv": [
        ("agents.*.csv", ["agents.B.csv"]),
        ("agents.[1].csv", ["agents.1.csv"]),
        ("agents.?.csv", ["agents.X.csv"]),
    ],
    "parquet": [
        ("agents.*.parquet", ["agents.B.parquet"]),
        ("agents.[1].parquet", ["agents.1.parquet"]),
        ("agents.?.parquet", ["agents.X.parquet"]),
    ],
}
CASES = [(fmt, name, others) for fmt, cases in NAMES.items() for name, others in cases]


@pytest.mark.parametrize(("fmt", "name", "neighbours"), CASES, ids=[c[1] for c in CASES])
def test_a_file_named_like_a_pattern_is_read_alone(tmp_path, lab, fmt, name, neighbours):
    named = _write(tmp_path / name, fmt, ("a-named",))
    for n, other in enumerate(neighbours):
        _write(tmp_path / other, fmt, (f"secret-{n}",))
    report = lab.load(named)
    assert _stored(lab) == ["a-named"]
    assert report.files == (str(named),)
    (files_read, digests) = lab.con.execute("select files, digests from loads").fetchone()
    assert files_read == [str(named)]
    assert digests == [_sha256(named)]


@pytest.mark.parametrize("folder", ["client*", "client?", "client[B]", "**"])
def test_a_folder_named_like_a_pattern_reads_its_own_files(tmp_path, lab, folder):
    inside = tmp_path / folder
    inside.mkdir()
    _write(inside / "agents.csv", "csv", ("own-csv",))
    _write(inside / "more.jsonl", "jsonl", ("own-jsonl",))
    _write(inside / "agents.parquet", "parquet", ("own-parquet",))
    neighbour = tmp_path / "clientB"
    neighbour.mkdir(exist_ok=True)
    _write(neighbour / "agents.csv", "csv", ("secret-csv",))
    _write(neighbour / "more.jsonl", "jsonl", ("secret-jsonl",))
    _write(neighbour / "agents.parquet", "parquet", ("secret-parquet",))
    lab.load(inside)
    assert _stored(lab) == ["own-csv", "own-jsonl", "own-parquet"]
    (files_read, digests) = lab.con.execute("select files, digests from loads").fetchone()
    assert files_read == [str(inside / n) for n in ("agents.csv", "agents.parquet", "more.jsonl")]
    assert digests == [_sha256(Path(f)) for f in files_read]


def test_problems_name_the_file_and_keep_line_numbers(tmp_path, lab):
    path = write_jsonl(
        tmp_path / "pv*.jsonl",
        [*_agents("a1"), "", '{"type": "agent", "id": "a2", "soft_limit": }', *_agents("a3")],
    )
    write_jsonl(tmp_path / "pvB.jsonl", ["not json at all"])
    with pytest.raises(el.LoadError) as info:
        lab.load(path)
    assert [p.split(": ")[0] for p in info.value.problems] == ["pv*.jsonl:3"]


def test_a_bad_parquet_file_is_named_not_its_descriptor(tmp_path, lab):
    (tmp_path / "agents.*.parquet").write_bytes(b"PAR1 but not parquet")
    with pytest.raises(el.LoadError) as info:
        lab.load(tmp_path / "agents.*.parquet")
    (problem,) = info.value.problems
    assert problem.startswith("agents.*.parquet:1: file: not a readable Parquet file")
    assert "/fd/" not in problem and "agents.*.parquet" in problem.split(": ", 3)[3]


def test_a_file_changed_after_hashing_is_refused(tmp_path, lab, monkeypatch):
    path = write_jsonl(tmp_path / "agents.jsonl", _agents("a1"))
    real_prepass = loading.prepass

    def prepass_then_append(source):
        found = real_prepass(source)
        with path.open("a", encoding="utf-8") as fh:  # another writer, after the hash
            fh.write('{"type": "agent", "id": "sneaked", "soft_limit": 1}\n')
        return found

    monkeypatch.setattr(loading, "prepass", prepass_then_append)
    before = db_digest(lab)
    with pytest.raises(el.LoadError) as info:
        lab.load(path)
    assert any(
        p.startswith("agents.jsonl:1: file: file changed while it was loaded")
        for p in info.value.problems
    ), info.value.problems
    assert db_digest(lab) == before


def test_a_file_replaced_after_hashing_is_refused(tmp_path, lab, monkeypatch):
    path = write_jsonl(tmp_path / "agents.csv.jsonl", _agents("a1"))
    real_prepass = loading.prepass

    def prepass_then_replace(source):
        found = real_prepass(source)
        swapped = write_jsonl(tmp_path / "swap.tmp", _agents("b1"))
        os.replace(swapped, path)  # same name, another file
        return found

    monkeypatch.setattr(loading, "prepass", prepass_then_replace)
    with pytest.raises(el.LoadError, match="changed while it was loaded"):
        lab.load(path)
    assert _stored(lab) == []


def test_same_size_same_time_files_are_each_read(tmp_path, lab):
    """Descriptor names repeat across reads; DuckDB must not serve a cached file."""
    first = _write(tmp_path / "agents.1.csv", "csv", ("x-one",))
    second = _write(tmp_path / "agents.2.csv", "csv", ("x-two",))
    for path in (first, second):
        os.utime(path, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
    assert first.stat().st_size == second.stat().st_size
    lab.load(first)
    lab.load(second)
    assert _stored(lab) == ["x-one", "x-two"]


def test_exact_path_names_the_descriptor_not_the_file(tmp_path):
    path = _write(tmp_path / "pv*.jsonl", "jsonl", ("a",))
    source = files.SourceFile(path, 1, "jsonl")
    with files.exact_path(source) as name:
        assert not any(c in name for c in "*?[]")
        assert Path(name).read_bytes() == path.read_bytes()
    assert source.identity is not None


def test_an_unreadable_or_vanished_file_is_one_problem(tmp_path, lab, monkeypatch):
    path = write_jsonl(tmp_path / "gone.jsonl", _agents("a1"))
    real_prepass = loading.prepass

    def prepass_then_remove(source):
        found = real_prepass(source)
        path.unlink()
        return found

    monkeypatch.setattr(loading, "prepass", prepass_then_remove)
    with pytest.raises(el.LoadError) as info:
        lab.load(path)
    assert info.value.problems == ["gone.jsonl:1: file: cannot read: No such file or directory"]
