"""The evidence campaigns in their short CI form: a spread of the fault points and of the
power cuts in storage writes, the writes forced during burns, a short link fault run, a short
fuzz and a short wear profile, each with zero violations; plus checks that the checkers fail."""

import pytest

from firmware.tables import CMD_ARM, CMD_FIRE
from tests.campaign import faults, fuzz, linkfaults, wear
from tests.campaign.fuzz_mp import plugged_rig, unsafe
from tests.campaign.rig import Board, param_id, set_params

pytestmark = pytest.mark.slow
LIMIT = 6  # of about 38 reset/power-cycle/brown-out points
CUT_LIMIT = 1  # power cuts per place (faults.CUTS), of tens each


def test_reset_or_power_cut_at_a_spread_of_steps_breaks_no_invariant():
    nominal, outcomes = faults.campaign(LIMIT, CUT_LIMIT, log=lambda s: None)
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


def test_a_mission_profile_keeps_every_flash_sector_ten_times_below_its_rated_erases():
    day, events = wear.measure(commands=100, timing="typical", log=lambda s: None)
    lines, margin = wear.budget(day, events)
    assert margin >= wear.MARGIN, "\n".join(lines)
    assert day.commands == 100 and day.resets == wear.PROFILE["resets_per_day"]
    assert sum(day.erases) <= 2 * day.resets, lines  # a boot writes its state record; reading commands nothing


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


def test_fuzzed_signed_commands_with_a_key_in_use_raise_nothing_and_drive_no_output():
    r = fuzz.under_hypothesis(200, signed=True)
    assert r.inputs >= 200 and not r.violations, r.violations
    # every input passed the CRC (made good after the change): a TC for us, or not (its header changed)
    assert r.crc_errors == 0 and r.frames + r.undecodable == r.inputs and r.frames > r.inputs // 2


def test_the_fault_checks_see_slots_left_stowed_and_a_changed_parameter():
    with Board(99) as board, board.client() as c:
        set_params(c)
        mark = c.position()  # after the first boot's RECORD_MISSING: a parameter wrong now is not a loss
        c.send("PARAM_SET", param_id("ARM_WINDOW"), 61)
        found, lost = faults.check(c, board, c.records(mark))
    assert len(found) == 5 and not lost, found  # four slots STOWED in silence, one parameter
    assert any("ARM_WINDOW reads 61" in v for v in found), found


def test_the_fuzz_checker_sees_a_burn_when_the_plug_is_out():
    rig = plugged_rig()
    rig.board.rbf = True
    rig.send(CMD_ARM)
    rig.send(CMD_FIRE, 1)
    rig.run(200)
    assert unsafe(rig.board) is not None
