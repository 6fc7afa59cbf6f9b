"""The object-name rules: MMS identifiers and the stricter ICCP object ids on top of them."""

import pytest

from gateway.names import is_iccp_object_id, is_mms_identifier
from gateway.points import check_point_id


@pytest.mark.parametrize("name", ["TASE2_Version", "a", "x$y_Z9", "A" * 32])
def test_a_letter_first_name_is_both(name: str) -> None:
    assert is_mms_identifier(name) and is_iccp_object_id(name)


@pytest.mark.parametrize("name", ["_Bilateral", "$x"])
def test_underscore_or_dollar_first_is_mms_but_not_iccp(name: str) -> None:
    assert is_mms_identifier(name) and not is_iccp_object_id(name)
    with pytest.raises(ValueError, match="must start with a letter"):
        check_point_id(name)


@pytest.mark.parametrize("name", ["", "1abc", "TASE.2_Version", "a-b", "é", "a b", "a\n"])
def test_other_characters_and_a_digit_first_are_neither(name: str) -> None:
    assert not is_mms_identifier(name) and not is_iccp_object_id(name)


def test_both_are_at_most_32_characters_unless_told_otherwise() -> None:
    assert not is_mms_identifier("A" * 33) and not is_iccp_object_id("A" * 33)
    assert is_mms_identifier("A" * 28, 28) and not is_mms_identifier("A" * 29, 28)
    with pytest.raises(ValueError, match="longer than 32 characters"):
        check_point_id("A" * 33)
