"""Random sequences of bookings and cancellations (hypothesis) agree with a pure-Python model of the rules."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bookings import services
from bookings.models import Booking
from labs.errors import Conflict
from tests.bookings.conftest import local
from tests.bookings.factories import DeskFactory, RoomFactory

pytestmark = pytest.mark.usefixtures("frozen")

DAY = local(2026, 3, 3, 8)
SLOT = timedelta(minutes=15)


@dataclass
class Held:
    person: int
    kind: str
    resource: int
    start: object
    end: object
    hold_end: object
    live: bool = True


def model_allows(model: list[Held], new: Held) -> bool:
    """The rule in plain Python: no live holding interval on the same room or desk, one desk per person."""
    for old in model:
        if not old.live:
            continue
        same_resource = old.kind == new.kind and old.resource == new.resource
        if same_resource and old.start < new.hold_end and new.start < old.hold_end:
            return False
        same_persons_desks = new.kind == old.kind == "desk" and old.person == new.person
        if same_persons_desks and old.start < new.end and new.start < old.end:
            return False
    return True


book = st.tuples(
    st.just("book"),
    st.integers(0, 2),  # person
    st.sampled_from([("room", 0), ("room", 1), ("desk", 0), ("desk", 1)]),
    st.integers(0, 32),  # start slot
    st.integers(1, 8),  # length in slots
)
cancel = st.tuples(st.just("cancel"), st.integers(0, 40))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=st.lists(st.one_of(book, book, cancel), min_size=1, max_size=25))
def test_random_operations_agree_with_the_model(member, colleague, outsider, site, floor, zone, operations):
    people = [member, colleague, outsider]
    with transaction.atomic():
        rooms = [
            RoomFactory(site=site, floor=floor, name="Model A", buffer_minutes=0),
            RoomFactory(site=site, floor=floor, name="Model B", buffer_minutes=15),
        ]
        desks = [DeskFactory(site=site, floor=floor, zone=zone, label=f"M-{i}") for i in range(2)]
        model: list[Held] = []
        made: list[Booking | None] = []
        for op in operations:
            if op[0] == "book":
                _, who, (kind, index), slot, length = op
                start = DAY + slot * SLOT
                end = start + length * SLOT
                resource = rooms[index] if kind == "room" else desks[index]
                buffer = timedelta(minutes=resource.buffer_minutes) if kind == "room" else timedelta()
                wanted = Held(who, kind, index, start, end, end + buffer)
                expected = model_allows(model, wanted)
                try:
                    booking = services.booking_create(actor=people[who], start=start, end=end, **{kind: resource})
                except Conflict:
                    assert not expected, f"refused but the model allows it: {wanted}"
                    made.append(None)
                else:
                    assert expected, f"booked but the model refuses it: {wanted}"
                    model.append(wanted)
                    made.append(booking)
            else:
                booked = [(b, h) for b, h in zip([m for m in made if m], model, strict=True)]
                if not booked:
                    continue
                booking, held = booked[op[1] % len(booked)]
                services.booking_cancel(actor=booking.organiser, booking=booking)
                held.live = False
        live = Booking.objects.filter(status="confirmed").count()
        assert live == sum(1 for h in model if h.live)
        transaction.set_rollback(True)
