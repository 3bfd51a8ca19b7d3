"""The notebooks are stored executed, so nbval really compares something.

nbval passes a notebook saved without outputs while checking nothing (RECIPES.md): these
tests fail instead. They also keep the stored files small and free of volatile text.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest
from nbval.plugin import get_sanitize_patterns

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SANITIZE = ROOT / "notebooks" / "nbval-sanitize.cfg"
UNCHECKED_MARKERS = ("NBVAL_IGNORE_OUTPUT", "NBVAL_SKIP", "NBVAL_RAISES_EXCEPTION")


def patterns() -> list[tuple[str, str]]:
    return get_sanitize_patterns(SANITIZE.read_text(encoding="utf-8"))


def output_texts(output: dict) -> list[str]:
    """The compared text of one output (what nbval's sanitizer would see)."""
    if output["output_type"] == "stream":
        return [output["text"]]
    texts = []
    for mime, value in output.get("data", {}).items():
        texts.append(value if isinstance(value, str) else json.dumps(value, sort_keys=True))
        del mime
    return texts


def is_checked(text: str) -> bool:
    """A number nbval compares as is: the sanitizer leaves it untouched."""
    sanitized = text
    for regex, replace in patterns():
        sanitized = re.sub(regex, replace, sanitized)
    return sanitized == text and bool(re.search(r"\d", text))


def test_there_are_notebooks():
    assert any(p.name == "01_explore.ipynb" for p in NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_code_cell_was_run_and_has_output(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code
    for index, cell in enumerate(code, start=1):
        assert cell.execution_count is not None, f"{path.name}: code cell {index} never run"
        assert cell.outputs, f"{path.name}: code cell {index} has no stored output"
        for output in cell.outputs:
            assert output["output_type"] != "error", f"{path.name}: cell {index} raised"
            if output["output_type"] == "stream":
                assert output["name"] == "stdout", f"{path.name}: cell {index} wrote stderr"
    # executed top to bottom in one kernel, as nbval will
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_each_notebook_has_checked_outputs(path):
    nb = nbformat.read(path, as_version=4)
    checked = 0
    for cell in nb.cells:
        if cell.cell_type != "code" or any(m in cell.source for m in UNCHECKED_MARKERS):
            continue
        if any(is_checked(t) for o in cell.outputs for t in output_texts(o)):
            checked += 1
    assert checked >= 1, f"{path.name}: no output is compared by nbval"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_small_and_holds_no_widget_state(path):
    assert path.stat().st_size < 1_000_000
    nb = nbformat.read(path, as_version=4)
    assert "widgets" not in nb.metadata  # executed with store_widget_state=False


def test_sanitize_file_pairs_every_regex_with_a_replace():
    lines = [line for line in SANITIZE.read_text(encoding="utf-8").splitlines() if line]
    regex_lines = [i for i, line in enumerate(lines) if line.startswith("regex:")]
    assert regex_lines
    for i in regex_lines:
        assert lines[i + 1].startswith("replace:"), lines[i]
    found = patterns()
    assert len(found) == len(regex_lines)
    for regex, _ in found:
        re.compile(regex)


@pytest.mark.parametrize(
    ("text", "checked"),
    [
        ("pages whose end was not recorded: 13 of 134", True),
        ("<Lab '/tmp/tmpab12/explore.duckdb'>", False),
        ("<object at 0x7f3a2b4c5d6e>", False),
        ('{"uid": "6f1c2a9e-1b2c-4d3e-8f90-123456789abc"}', False),
        ("no digits here", False),
    ],
)
def test_checked_means_a_number_the_sanitizer_leaves_alone(text, checked):
    assert is_checked(text) is checked
