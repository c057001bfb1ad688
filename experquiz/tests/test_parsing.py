import pytest

from experquiz.parsing import MAX_ID, parse_id, parse_ids


@pytest.mark.parametrize(("value", "expected"), [("12", 12), (12, 12), ("007", 7), (str(MAX_ID), MAX_ID)])
def test_ids_in_ascii_digits_are_read(value, expected):
    assert parse_id(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "",
        None,
        "0",
        0,
        -3,
        "-3",
        "²",
        "٥٠",
        " 12",
        "12 ",
        "+12",
        "1_0",
        "1.0",
        "0x10",
        "abc",
        str(MAX_ID + 1),
        MAX_ID + 1,
        "9" * 5000,
        True,
    ],
)
def test_anything_else_names_nothing(value):
    assert parse_id(value) is None


def test_a_list_keeps_only_the_ids_in_order():
    assert parse_ids(["3", "x", "²", "1", " 2", "99999999999999999999"]) == [3, 1]
