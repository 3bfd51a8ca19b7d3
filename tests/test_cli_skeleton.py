"""The CLI's stable command names exist; unbuilt ones say so and exit 2."""

from __future__ import annotations

import pytest

from engage_lab.cli import main


@pytest.mark.parametrize("argv", [["lab"], ["dashboard"]])
def test_unbuilt_command_exits_2_with_one_line(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not built yet" in err[0]


def test_public_surface_is_what_we_mean_to_export():
    import engage_lab as el

    assert el.__all__ == sorted(el.__all__)
    assert set(el.__all__) == EXPECTED_PUBLIC_NAMES
    for name in el.__all__:
        assert hasattr(el, name), name


EXPECTED_PUBLIC_NAMES = {
    "CompileError",
    "ConditionError",
    "Config",
    "ConfigError",
    "ConfigHistory",
    "DatabaseError",
    "EngageLabError",
    "EngineError",
    "Lab",
    "LoadError",
    "NotBuiltError",
    "UnsupportedOperatorError",
    "__version__",
    "conditions",
    "open",
}
