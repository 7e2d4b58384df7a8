"""The evidence campaigns in their short CI form: a spread of the fault points, a short link
fault run and a short fuzz, each with zero violations; plus checks that the checkers fail."""

import pytest

from firmware.tables import CMD_ARM, CMD_FIRE
from tests.campaign import faults, fuzz, linkfaults
from tests.campaign.fuzz_mp import plugged_rig, unsafe
from tests.campaign.rig import Board, param_id, set_params

pytestmark = pytest.mark.slow
LIMIT = 16  # of about 38 reset/power-cycle/brown-out points, and of about 50 flash block writes


def test_reset_or_power_cut_at_a_spread_of_steps_breaks_no_invariant():
    nominal, outcomes = faults.campaign(LIMIT, log=lambda s: None)
    assert not nominal.violations, nominal.violations
    assert len(nominal.keys) >= 13  # ARMED, then BURN_START, BURN_END, RELEASED per slot
    assert sum(o.point.kind == "powercut" and o.injected for o in outcomes) >= LIMIT
    assert sum(o.injected for o in outcomes) >= 2 * LIMIT - 1  # a reset after the last event may find no board change
    bad = [faults.line(o) for o in outcomes if o.violations]
    assert not bad, "\n".join(bad)


def test_commands_under_link_noise_complete_once_or_fail_visibly():
    levels = linkfaults.campaign(commands=6, rates=(0.0, 3e-2), log=lambda s: None)
    assert levels[1].corrupted > 0 and levels[1].reordered > 0  # the noise was really there
    bad = [linkfaults.line(lv) for lv in levels if lv.violations]
    assert not bad, "\n".join(bad)


def test_fuzzed_frames_under_the_unix_port_raise_nothing_and_drive_no_output():
    r = fuzz.unix_port(3000)
    assert r.inputs == 3000 and not r.violations, r.violations
    assert min(r.per_kind) > 0 and r.crc_errors > 0 and r.frames > 0


def test_fuzzed_frames_under_hypothesis_raise_nothing_and_drive_no_output():
    r = fuzz.under_hypothesis(300)
    assert r.inputs >= 300 and not r.violations, r.violations


def test_the_fault_checks_see_slots_left_stowed_and_a_changed_parameter():
    with Board(99) as board, board.client() as c:
        set_params(c)
        c.send("PARAM_SET", param_id("ARM_WINDOW"), 61)
        found = faults.check(c, board, c.records())
    assert len(found) == 5, found  # four slots STOWED in silence, one parameter
    assert any("ARM_WINDOW reads 61" in v for v in found), found


def test_the_fuzz_checker_sees_a_burn_when_the_plug_is_out():
    rig = plugged_rig()
    rig.board.rbf = True
    rig.send(CMD_ARM)
    rig.send(CMD_FIRE, 1)
    rig.run(200)
    assert unsafe(rig.board) is not None
