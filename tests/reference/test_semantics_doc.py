"""docs/semantics.md lists every rule with its test: each rule names a test, each named
test exists in tests/reference/."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "semantics.md"
TEST_NAME = re.compile(r"`(test_[a-z0-9_]+)`")


def rule_lines() -> list[str]:
    return [line for line in DOC.read_text(encoding="utf-8").splitlines() if line.startswith("- ")]


def defined_tests() -> set[str]:
    names: set[str] = set()
    for path in Path(__file__).parent.glob("test_*.py"):
        names |= set(re.findall(r"^def (test_[a-z0-9_]+)\(", path.read_text(), re.MULTILINE))
    return names


def test_every_rule_names_a_test():
    rules = rule_lines()
    assert len(rules) >= 80
    missing = [line for line in rules if not TEST_NAME.search(line)]
    assert missing == []


def test_every_named_test_exists():
    named = {name for line in rule_lines() for name in TEST_NAME.findall(line)}
    assert named - defined_tests() == set()


def test_checker_catches_a_rule_without_test_and_an_unknown_test():
    assert not TEST_NAME.search("- A rule with no test.")
    assert "test_does_not_exist" not in defined_tests()
