"""`ProblemLog`: the first problem of a kind at once, then a line a window with the count."""

import logging

import pytest

from gateway.logs import ProblemLog


def test_a_line_per_kind_and_window_with_the_count_and_points(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    problems = ProblemLog(logging.getLogger("t"), window=60.0, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="t"):
        assert problems.report("x", "nan", "A: NaN", "A")
        assert problems.report("x", "unmapped", "S: 7", "S")  # another kind: at once
        for t, point in ((1.0, "B"), (30.0, "C"), (59.0, "B")):
            now[0] = t
            assert not problems.report("x", "nan", f"{point}: NaN", point)
        now[0] = 61.0
        assert problems.report("x", "nan", "D: NaN", "D")  # the window is over: a summary
        now[0] = 62.0
        assert not problems.report("x", "nan", "E: NaN", "E")
        now[0] = 500.0
        assert problems.report("x", "nan", "F: NaN", "F")  # E waited: summed up now
        now[0] = 1000.0
        assert problems.report("x", "nan", "G: NaN", "G")  # quiet for a window: at once
    lines = [r.getMessage() for r in caplog.records]
    assert lines[:2] == ["x: A: NaN", "x: S: 7"]
    assert lines[2] == "x: D: NaN (nan: 4 more in the last 61 s; points B, C, D)"
    assert lines[3] == "x: F: NaN (nan: 2 more in the last 439 s; points E, F)"
    assert lines[4] == "x: G: NaN"
    assert len(lines) == 5
