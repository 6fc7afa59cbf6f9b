"""Log helpers: the throttle that thins out repeated problems."""

from gateway.logs import Throttle


def test_count_logs_each_kind_at_its_1st_2nd_4th_8th_occurrence() -> None:
    throttle = Throttle()
    logged = [throttle.count("malformed") for _ in range(9)]
    assert logged == [1, 2, 0, 4, 0, 0, 0, 8, 0]
    assert throttle.count("unknown") == 1  # each kind counts on its own
    assert throttle.count("malformed") == 0


def test_failure_logs_a_new_error_at_once_and_a_repeat_at_powers_of_two() -> None:
    throttle = Throttle()
    logged = [throttle.failure("refused", n) for n in range(1, 10)]
    assert logged == [True, True, False, True, False, False, False, True, False]
    assert throttle.failure("timed out", 10)  # another error: always
    assert not throttle.failure("timed out", 11)
    assert throttle.last_error == "timed out"


def test_reset_makes_the_next_failure_worth_a_line() -> None:
    throttle = Throttle()
    throttle.failure("refused", 1)
    assert not throttle.failure("refused", 3)
    throttle.reset()
    assert throttle.last_error == ""
    assert throttle.failure("refused", 3)


def test_a_bounded_throttle_forgets_its_counts_rather_than_grow() -> None:
    throttle = Throttle(max_kinds=2)
    assert [throttle.count("a"), throttle.count("a"), throttle.count("b")] == [1, 2, 1]
    assert throttle.count("c") == 1  # a third kind: the counts start afresh
    assert throttle.count("a") == 1
