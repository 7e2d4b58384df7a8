"""The power-cut and reset campaign in its short CI form: a spread of the fault points and of
the power cuts in storage writes, and the writes forced during burns, each with zero violations;
plus a check that the fault checker fails when it should (make faults runs the whole campaign)."""

import pytest

from tests.campaign import faults
from tests.campaign.rig import Board, param_id, set_params

pytestmark = pytest.mark.slow
LIMIT = 6  # of about 38 reset/power-cycle/brown-out points
CUT_LIMIT = 1  # power cuts per place (faults.CUTS), of tens each


def test_reset_or_power_cut_at_a_spread_of_steps_breaks_no_invariant():
    nominal, outcomes = faults.campaign(LIMIT, CUT_LIMIT, workers=3, log=lambda s: None)
    assert not nominal.violations, nominal.violations
    assert len(nominal.keys) >= 13  # ARMED, then BURN_START, BURN_END, RELEASED per slot
    assert {o.point.cut for o in outcomes if o.point.kind == "powercut" and o.injected} == set(faults.CUTS)
    assert sum(o.injected for o in outcomes) >= LIMIT + len(faults.CUTS) - 1  # a reset after the last event
    bad = [faults.line(o) for o in outcomes if o.violations]                   # may find no board change
    assert not bad, "\n".join(bad)
    assert all(o.sectors_lost for o in outcomes if o.losses)  # records lost only with the sector


def test_writes_forced_during_burns_never_stretch_a_burn_nor_reach_flash_before_the_cut():
    forced = faults.burn_writes(log=lambda s: None)
    assert len(forced.burns) == 3 and forced.sent == 6
    assert not forced.violations, forced.violations


def test_the_fault_checks_see_slots_left_stowed_and_a_changed_parameter():
    with Board(99) as board, board.client() as c:
        set_params(c)
        mark = c.position()  # after the first boot's RECORD_MISSING: a parameter wrong now is not a loss
        c.send("PARAM_SET", param_id("ARM_WINDOW"), 61)
        found, lost = faults.check(c, board, c.records(mark))
    assert len(found) == 5 and not lost, found  # four slots STOWED in silence, one parameter
    assert any("ARM_WINDOW reads 61" in v for v in found), found
