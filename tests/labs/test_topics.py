"""The MQTT topic vocabulary (labs.topics): one place that formats, parses and matches contract v1's topics."""

import pytest

from labs import topics


def test_a_topic_is_formatted_as_the_contract_says():
    assert topics.topic("cph", "desk", "d1", "desired") == "labs/v1/cph/desk/d1/desired"
    assert topics.topic_filter("ack") == "labs/v1/+/+/+/ack"
    assert topics.topic_filter("scan", kind="reader") == "labs/v1/+/reader/+/scan"


def test_a_topic_parses_back_into_its_parts():
    parsed = topics.parse("labs/v1/cph/hvac/h1/ack")

    assert parsed == topics.DeviceTopic(site="cph", kind="hvac", device_id="h1", leaf="ack")
    assert str(parsed) == "labs/v1/cph/hvac/h1/ack"


@pytest.mark.parametrize(
    "value",
    [
        "labs/v2/cph/desk/d1/ack",  # another version of the tree
        "labs/v1/cph/toaster/t1/ack",  # unknown kind
        "labs/v1/cph/desk/d1/firmware",  # unknown leaf
        "labs/v1/cph/desk//ack",  # empty id
        "labs/v1/cph/desk/+/ack",  # a wildcard is not an id
        "labs/v1/cph/desk/d1/ack/extra",
        "labs/v1/cph/desk/d\x001/ack",
        "labs/v1/c ph/desk/d1/ack",
        "",
    ],
)
def test_anything_else_does_not_parse(value):
    assert topics.parse(value) is None


@pytest.mark.parametrize(
    ("topic_filter", "topic", "expected"),
    [
        ("labs/v1/+/+/+/ack", "labs/v1/cph/desk/d1/ack", True),
        ("labs/v1/+/+/+/ack", "labs/v1/cph/desk/d1/reported", False),
        ("labs/v1/#", "labs/v1/cph/desk/d1/ack", True),
        ("$share/labs/labs/v1/+/+/+/ack", "labs/v1/cph/desk/d1/ack", True),
        ("labs/v1/+/+/+/ack", "labs/v1/cph/desk/ack", False),
    ],
)
def test_filters_match_with_wildcards_and_shared_prefixes(topic_filter, topic, expected):
    assert topics.matches(topic_filter, topic) is expected


def test_a_shared_subscription_names_the_backends_group():
    assert topics.shared("labs/v1/+/+/+/ack") == "$share/labs/labs/v1/+/+/+/ack"
    assert topics.unshared("$share/labs/labs/v1/+/+/+/ack") == "labs/v1/+/+/+/ack"


def test_payloads_encode_as_compact_json_and_refuse_nan():
    assert topics.Publish("t", {"a": 1}).encoded() == b'{"a":1}'
    with pytest.raises(ValueError):
        topics.encode({"a": float("nan")})
