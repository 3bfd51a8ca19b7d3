"""Another process holding the database; a load killed mid-way."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import engage_lab as el
from engage_lab.cli import main
from tests.data.conftest import base_records, db_digest, write_jsonl

HOLDER = textwrap.dedent(
    """
    import sys, time
    import engage_lab as el
    lab = el.open(sys.argv[1])
    print("ready", flush=True)
    sys.stdin.readline()
    lab.close()
    """
)


def test_database_in_use_by_another_process(tmp_path, capsys):
    db = tmp_path / "held.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(el.DatabaseError) as info:
            el.open(db)
        message = str(info.value)
        assert message == (
            f"{db} is in use by another process (pid {holder.pid}); close it there first"
        )
        write_jsonl(tmp_path / "h.jsonl", base_records())
        assert main(["load", str(tmp_path / "h.jsonl"), "--db", str(db)]) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "in use by another process" in err[0]
    finally:
        holder.communicate("\n", timeout=30)
    with el.open(db) as lab:  # released: opens fine
        assert lab.sql("select count(*) as n from loads")["n"][0] == 0


LOADER = textwrap.dedent(
    """
    import sys
    import engage_lab as el
    lab = el.open(sys.argv[1])
    print("loading", flush=True)
    lab.load(sys.argv[2], progress=False)
    print("done", flush=True)
    """
)


def _big_file(path, n_pages: int) -> None:
    with path.open("w") as fh:
        for i in range(n_pages):
            fh.write(
                json.dumps(
                    {
                        "type": "page_view",
                        "id": f"b{i}",
                        "visitor_id": f"w{i % 997}",
                        "started_at": 1772442000000 + i * 1000,
                        "url": f"https://x.example/{i % 50}",
                    }
                )
                + "\n"
            )
            fh.write(
                json.dumps(
                    {
                        "type": "chat_event",
                        "id": f"e{i}",
                        "page_view_id": f"b{i}",
                        "visitor_id": f"w{i % 997}",
                        "event": "started",
                        "event_at": 1772442000000 + i * 1000 + 10,
                    }
                )
                + "\n"
            )


@pytest.mark.slow
def test_sigkill_mid_load_leaves_the_database_as_it_was(tmp_path):
    db = tmp_path / "k.duckdb"
    with el.open(db) as lab:
        lab.load(write_jsonl(tmp_path / "base.jsonl", base_records()))
        before = db_digest(lab)
    big = tmp_path / "big.jsonl"
    _big_file(big, 300_000)
    child = subprocess.Popen(
        [sys.executable, "-c", LOADER, str(db), str(big)], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout.readline().strip() == "loading"
    time.sleep(1.0)
    assert child.poll() is None, "the load finished before it could be killed"
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    with el.open(db) as lab:
        assert db_digest(lab) == before
        report = lab.load(
            write_jsonl(tmp_path / "after.jsonl", [{"type": "agent", "id": "a5", "soft_limit": 1}])
        )
        assert report.load_id == "L0002" and report.rows == 1
