"""Hazardous commands say in words what they will do, and only their own content confirms them."""

import doctest
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware import dictionary as d
from ground import codec, hazard
from ground.errors import UsageError

_SLOTS = range(1, d.N_SLOTS + 1)


def _build(*typed):
    return codec.build(typed[0], typed[1:], itertools.count().__next__)


def test_the_module_example_holds():
    assert doctest.testmod(hazard).failed == 0


@pytest.mark.parametrize("typed, text, answer", [
    (("ARM",), "ARM: switch the arm-enable line on (actuator supply) and open the arm window for FIRE, for as long "
     "as the ARM_WINDOW parameter says", "ARM"),
    (("FIRE", "3"), "FIRE 3: release slot 3, burning its actuator until its switch confirms release (at most "
     "1 + RETRIES burns)", "3"),
    (("FIRE_SEQUENCE", "1,2", "0"), "FIRE_SEQUENCE 1,2 0: release slots 1 and 2, in that order, 0 s apart", "1,2"),
    (("FIRE_SEQUENCE", "1,3,4", "600"), "FIRE_SEQUENCE 1,3,4 600: release slots 1, 3 and 4, in that order, "
     "600 s apart", "1,3,4"),
    (("SCHED_INSERT", "24800", "3723004", "FIRE_SEQUENCE", "2,3", "5"), "SCHED_INSERT 24800 3723004 "
     "[FIRE_SEQUENCE 2,3 5]: at 2025-11-25T01:02:03.004Z (on-board time), release slots 2 and 3, in that order, "
     "5 s apart", "2,3"),
])
def test_a_hazardous_command_says_exactly_what_it_will_do(typed, text, answer):
    c = hazard.confirmation(_build(*typed))
    assert (c.text, c.answer) == (text, answer)


@pytest.mark.parametrize("typed", [("PING",), ("ABORT",), ("SAFE",), ("SCHED_INSERT", "25000", "0", "PING")])
def test_a_harmless_command_needs_no_confirmation(typed):
    assert hazard.confirmation(_build(*typed)) is None


@given(st.lists(st.sampled_from(_SLOTS), min_size=2, unique=True).map(sorted), st.integers(0, 600))
def test_a_sequence_is_confirmed_by_its_own_slot_list_and_by_nothing_else(slots, spacing):
    typed = ",".join(map(str, slots))
    c = hazard.confirmation(_build("FIRE_SEQUENCE", typed, str(spacing)))
    assert c.accepts(typed) and c.accepts(" " + ", ".join(map(str, slots)) + " ")
    assert "release slots %s and %d, in that order, %d s apart" % (
        ", ".join(map(str, slots[:-1])), slots[-1], spacing) in c.text
    mask = sum(1 << (s - 1) for s in slots)
    others = {str(mask), typed[::-1], ",".join(map(str, slots[:-1])), "FIRE_SEQUENCE", ""}
    assert not any(c.accepts(o) for o in others - {typed})


def test_the_old_bitmask_typing_can_no_longer_release_slots_1_and_2():
    with pytest.raises(UsageError, match="a single number is refused, as it could be read as a bitmask"):
        _build("FIRE_SEQUENCE", "3", "0")
    assert not hazard.confirmation(_build("FIRE_SEQUENCE", "1,2", "0")).accepts("3")


def test_the_client_refuses_an_unconfirmed_hazardous_command_in_words(client, fw):
    with pytest.raises(UsageError, match=r"^FIRE_SEQUENCE 2,4 0: release slots 2 and 4, in that order, 0 s apart "
                                         r"\(hazardous: confirm=True sends it"):
        client.submit("FIRE_SEQUENCE", [2, 4], 0)
    assert fw.received == []
