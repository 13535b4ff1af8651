"""The test factories themselves: the people one test makes never share a surname (tests/factories.py)."""

from __future__ import annotations

from tests.factories import UserFactory


def test_the_people_of_one_test_have_distinct_surnames_even_past_the_generators_list():
    names = [UserFactory.build().last_name for _ in range(1_200)]  # en_US has ~1,000 surnames
    assert len(set(names)) == len(names)
    assert any("-" in name and name.rsplit("-", 1)[1].isdigit() for name in names)  # the overflow was reached
