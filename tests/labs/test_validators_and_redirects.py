"""labs.validators.ascii_int and labs.redirects.local_target: the two checks every door that takes a number or a
``next`` from outside goes through."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from labs.redirects import local_target
from labs.validators import ascii_int


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0", 0), ("42", 42), ("9" * 18, int("9" * 18)), ("", None), ("9" * 19, None), ("-1", None), ("1.0", None),
     (" 1", None), ("²", None), ("١٢", None), ("１２", None), ("9" * 5000, None)],
)  # fmt: skip
def test_ascii_int_takes_plain_digits_only(text, expected):
    assert ascii_int(text) == expected


def test_ascii_int_keeps_to_the_digits_asked_for():
    assert ascii_int("123456", max_digits=6) == 123456
    assert ascii_int("1234567", max_digits=6) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [("/bookings/?day=2026-12-03", "/bookings/?day=2026-12-03"), ("/", "/"), ("", None), (None, None), ("0", None),
     ("bookings/", None), ("portal:dashboard", None), ("//evil.example/", None), ("/\\\\evil.example/", None),
     ("http://testserver/x", None), ("https://evil.example/", None), ("javascript:alert(1)", None)],
)  # fmt: skip
def test_local_target_is_a_path_of_this_site_or_nothing(value, expected):
    assert local_target(RequestFactory().get("/"), value) == expected
