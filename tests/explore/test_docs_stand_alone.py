"""The project's user-facing text stands on its own: it cites only files of the repository.

README, docs, notebooks, CLI help and docstrings are read by users of a clone that holds
nothing else: a citation of a design note kept elsewhere, or of a file that was renamed,
sends them nowhere.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: Names of documents that live outside the repository.
OUTSIDE = re.compile(r"DESIGN\.md|engage-facts|\.\./shared|STYLE\.md|RECIPES(\.md)?\b")
#: A path into the repository, as the docs write them.
REPO_PATH = re.compile(
    r"(?<![\w/.])(?:data|tools|tests|docs|engage_lab|notebooks|benchmarks)/[\w./*-]*[\w*/]"
)


def user_facing_texts() -> dict[str, str]:
    """Relative path -> text: docs, README, notebook sources, the package's code."""
    texts = {}
    for path in [ROOT / "README.md", ROOT / "Makefile", ROOT / "pyproject.toml"]:
        texts[path.name] = path.read_text(encoding="utf-8")
    # (not "**": a `make demo` checkout holds .venv/ with other projects' READMEs)
    patterns = ("docs/*.md", "engage_lab/**/*.py", "tools/*.py", "data/*/README.md")
    for pattern in (*patterns, "tests/**/README.md", "benchmarks/*.py"):
        for path in sorted(ROOT.glob(pattern)):
            texts[str(path.relative_to(ROOT))] = path.read_text(encoding="utf-8")
    for path in sorted(ROOT.glob("notebooks/*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        texts[str(path.relative_to(ROOT))] = "\n".join("".join(c["source"]) for c in cells)
    return texts


def test_the_scan_reads_docs_notebooks_and_code():
    texts = user_facing_texts()
    assert "README.md" in texts and "docs/data-format.md" in texts
    assert any(name.startswith("notebooks/") for name in texts)
    assert "engage_lab/cli/__init__.py" in texts
    assert OUTSIDE.search("see DESIGN.md section 2") and OUTSIDE.search("(engage-facts §6)")


def test_no_citation_of_documents_outside_the_repository():
    found = [
        f"{name}:{text.count(chr(10), 0, hit.start()) + 1}: {hit.group(0)}"
        for name, text in user_facing_texts().items()
        for hit in OUTSIDE.finditer(text)
    ]
    assert not found, found


@pytest.mark.parametrize("name", ["README.md", "docs/data-format.md", "docs/configuration.md",
                                  "docs/semantics.md", "notebooks"])  # fmt: skip
def test_every_repository_path_the_docs_cite_exists(name):
    texts = {k: v for k, v in user_facing_texts().items() if k.startswith(name)}
    assert texts
    missing = []
    for source, text in texts.items():
        for cited in REPO_PATH.findall(text):
            if cited.endswith((".duckdb", ".parquet", ".jsonl", ".csv")) and "sample" not in cited:
                continue  # files the reader makes (a database, an export, an --out file)
            if not any(ROOT.glob(cited.rstrip("/"))):
                missing.append(f"{source}: {cited}")
    assert not missing, missing
