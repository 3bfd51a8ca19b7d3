"""pyproject.toml follows current packaging guidance (no setuptools deprecation warning)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def test_license_is_an_spdx_expression_with_a_backend_that_reads_it():
    data = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))
    # A table (`{ text = ... }`) is deprecated: setuptools warns at every build step.
    license_ = data["project"]["license"]
    assert isinstance(license_, str)
    assert re.fullmatch(r"LicenseRef-[A-Za-z0-9.-]+|[A-Za-z0-9.+-]+", license_)
    assert not any(c.startswith("License ::") for c in data["project"].get("classifiers", []))
    # SPDX strings need setuptools >= 77
    (setuptools,) = [r for r in data["build-system"]["requires"] if r.startswith("setuptools")]
    found = re.fullmatch(r"setuptools>=(\d+)(\.\d+)*", setuptools)
    assert found and int(found.group(1)) >= 77
