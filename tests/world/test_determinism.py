"""Same seed, same bytes; other seeds, other ids and other content."""

from __future__ import annotations

from pathlib import Path

from engage_lab.world import generate_world


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if
            p.is_file()}  # fmt: skip


def test_same_seed_gives_byte_identical_files_including_truth(tmp_path):
    kwargs = {"visitors": 150, "seed": 4, "days": 4, "mode": "messaging", "progress": False}
    generate_world(tmp_path / "a", **kwargs)
    generate_world(tmp_path / "b", **kwargs)
    a, b = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert sorted(a) == sorted(b)
    assert "page_views.jsonl" in a and "truth/params.json" in a and "threads.jsonl" in a
    for name in a:
        assert a[name] == b[name], name


def test_regenerating_into_the_same_folder_gives_the_same_bytes(tmp_path):
    kwargs = {"visitors": 60, "seed": 9, "days": 3, "progress": False}
    generate_world(tmp_path, **kwargs)
    first = _files(tmp_path)
    generate_world(tmp_path, **kwargs)
    assert _files(tmp_path) == first


def test_other_seed_gives_other_ids_and_other_content(tmp_path, live_world):
    other = tmp_path / "other"
    seed = live_world.summary.seed
    generate_world(other, visitors=400, seed=seed + 1, days=7, progress=False)
    from tests.world.conftest import read_jsonl

    mine = live_world["page_views"]
    theirs = read_jsonl(other / "page_views.jsonl")
    assert all(r["id"].startswith(f"s{seed}-pv-") for r in mine)
    assert all(r["id"].startswith(f"s{seed + 1}-pv-") for r in theirs)
    assert not {r["id"] for r in mine} & {r["id"] for r in theirs}
    # Content differs too, not only the prefix.
    assert [r["started_at"] for r in mine[:50]] != [r["started_at"] for r in theirs[:50]]
    assert [r["path"] for r in mine[:50]] != [r["path"] for r in theirs[:50]]


def test_output_does_not_depend_on_todays_date(live_world):
    starts = sorted(r["started_at"] for r in live_world["page_views"])
    # The span starts at local midnight of the fixed Monday 2026-03-02 in Europe/Paris.
    assert starts[0] >= "2026-03-01T23:00:00.000Z"
    assert starts[-1] < "2026-03-09T23:00:00.000Z"
    assert live_world.params["run"]["span_start"] == "2026-03-01T23:00:00Z"


def test_regenerating_another_mode_removes_stale_table_files(tmp_path):
    generate_world(tmp_path, 40, 9, mode="messaging", days=3, progress=False)
    assert (tmp_path / "threads.jsonl").exists()
    (tmp_path / "notes.jsonl").write_text("{}\n")  # not ours: kept
    generate_world(tmp_path, 40, 9, mode="live_chat", days=3, progress=False)
    assert not (tmp_path / "threads.jsonl").exists()
    assert (tmp_path / "notes.jsonl").exists()
