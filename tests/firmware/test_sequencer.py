"""The deployment sequencer's safety rules, on the fake board and plant."""

from firmware.packet import ACK_ALL
from firmware.tables import (
    ABORTED,
    ARM_LINE_OFF,
    ARM_WINDOW_EXPIRED,
    CMD_ABORT,
    CMD_ARM,
    CMD_DISARM,
    CMD_FIRE,
    CMD_FIRE_SEQUENCE,
    EV_ARM_LOST,
    EV_BURN_END,
    EV_DISARMED,
    EV_EARLY_RELEASE,
    EV_HW_CUTOFF,
    EV_REFUSED,
    EV_RELEASED,
    EV_SLOT_FAILED,
    EV_SWITCH_BOUNCE,
    FAILED,
    NO_PERMIT,
    NOT_ARMED,
    NOT_CONFIRMED,
    RBF_INSERTED,
    RELEASED,
    SAFE,
    SLOT_RELEASED,
    STOWED,
)
from tests.firmware.fakes import Rig, completion, events, failure, subtypes

BURN_MAX = 3000  # dictionary defaults
COOLDOWN = 5000
RETRIES = 2
DEBOUNCE = 50


def armed_rig(name):
    r = Rig(name)
    r.run(100)  # switches debounced: slots resolved STOWED
    r.send(CMD_ARM)
    r.run()
    assert r.app.seq.state != SAFE
    return r


def test_fire_sequence_releases_every_slot_in_ascending_order_one_at_a_time():
    r = armed_rig("seq_all")
    r.board.release_after = [400, 300, 200, 100]
    rid = r.send(CMD_FIRE_SEQUENCE, 0xF, 1)
    tms = r.run(10000)
    assert [b[0] for b in r.board.burns] == [0, 1, 2, 3]
    assert list(r.app.state.slots) == [RELEASED] * 4
    assert [e[1][0] for e in events(tms, EV_RELEASED)] == [1, 2, 3, 4]
    assert subtypes(tms, rid) == [1, 3, 5, 5, 5, 5, 7]
    burns = r.board.burns
    for i in range(1, len(burns)):
        assert burns[i][1] - burns[i - 1][2] >= 1000  # spacing 1 s between releases
    assert r.board.violations == []


def test_fire_burns_only_until_the_switch_confirms_release():
    r = armed_rig("fire_one")
    r.board.release_after[2] = 500
    rid = r.send(CMD_FIRE, 3)
    tms = r.run(2000)
    slot, start, end = r.board.burns[0]
    assert slot == 2 and 500 + DEBOUNCE <= end - start <= 500 + DEBOUNCE + 30
    assert r.app.state.slots[2] == RELEASED and r.app.state.attempts[2] == 1
    assert subtypes(tms, rid)[-1] == 7


def check_refused(r, rid, tms, code):
    f = failure(tms, rid)
    assert f is not None and f[1] == code, f
    assert (EV_REFUSED, (8, 1, code)) in events(tms, EV_REFUSED)
    assert r.board.burns == [] and r.board.on == -1


def arm_refused(name, fault, code):
    """ARM with one input wrong (``fault``: board attribute, value) is refused with ``code``."""
    r = Rig(name)
    setattr(r.board, fault[0], fault[1])
    rid = r.send(CMD_ARM)
    check_refused(r, rid, r.run(), code)
    assert not r.board.arm_out


def test_arm_is_refused_with_rbf_inserted_alone():
    arm_refused("inh_rbf", ("rbf", False), RBF_INSERTED)


def test_arm_is_refused_without_lander_permit_alone():
    arm_refused("inh_permit", ("perm", False), NO_PERMIT)


def test_arm_is_refused_when_the_arm_line_does_not_read_back():
    arm_refused("inh_line", ("arm_fault", True), ARM_LINE_OFF)


def test_fire_is_refused_when_not_armed():
    r = Rig("inh_armed")
    r.run(100)
    rid = r.send(CMD_FIRE, 1)
    check_refused(r, rid, r.run(), NOT_ARMED)


def fire_refused(name, fault, code):
    """FIRE after ARM with one input gone wrong is refused with ``code``; returns the TM."""
    r = armed_rig(name)
    setattr(r.board, fault[0], fault[1])
    rid = r.send(CMD_FIRE, 1)
    tms = r.run()
    check_refused(r, rid, tms, code)
    return r, tms


def test_fire_is_refused_when_rbf_goes_in_after_arm():
    fire_refused("inh_fire_rbf", ("rbf", False), RBF_INSERTED)


def test_fire_is_refused_when_permit_drops_after_arm_and_the_controller_disarms():
    r, tms = fire_refused("inh_fire_permit", ("perm", False), NO_PERMIT)
    assert events(tms, EV_ARM_LOST) == [(EV_ARM_LOST, (NO_PERMIT,))]
    assert r.app.seq.state == SAFE and not r.board.arm_out


def test_fire_is_refused_when_the_arm_line_drops():
    fire_refused("inh_fire_line", ("arm_fault", True), ARM_LINE_OFF)


def test_arm_window_expiry_disarms_and_a_late_fire_is_refused_as_expired():
    r = armed_rig("window")
    tms = r.run(60000)
    assert events(tms, EV_DISARMED) == [(EV_DISARMED, (ARM_WINDOW_EXPIRED,))]
    assert not r.board.arm_out
    rid = r.send(CMD_FIRE, 1)
    check_refused(r, rid, r.run(), ARM_WINDOW_EXPIRED)


def test_fire_just_inside_the_arm_window_burns():
    r = armed_rig("window_in")
    r.run(59000)
    r.send(CMD_FIRE, 1)
    r.run()
    assert r.board.on == 0


def test_stuck_switch_gets_bounded_retries_with_cooldown_then_failed():
    r = armed_rig("stuck")
    rid = r.send(CMD_FIRE, 1)
    tms = r.run(4 * (BURN_MAX + COOLDOWN))
    burns = r.board.burns
    assert len(burns) == 1 + RETRIES
    for slot, start, end in burns:
        assert slot == 0 and end - start <= BURN_MAX
    for i in range(1, len(burns)):
        assert burns[i][1] - burns[i - 1][2] >= COOLDOWN
    assert r.app.state.slots[0] == FAILED
    assert events(tms, EV_SLOT_FAILED) == [(EV_SLOT_FAILED, (1, 1 + RETRIES))]
    assert subtypes(tms, rid) == [1, 3, 6, 6, 6, 8]
    assert failure(tms, rid) == (6, NOT_CONFIRMED, 1)
    assert completion(tms, rid) == (NOT_CONFIRMED, 1)


def test_a_failed_slot_does_not_stop_the_sequence_and_completion_names_it():
    r = armed_rig("seq_fail")
    r.board.release_after = [None, 200, None, 200]
    rid = r.send(CMD_FIRE_SEQUENCE, 0b0110, 0)
    tms = r.run(4 * (BURN_MAX + COOLDOWN))
    assert list(r.app.state.slots) == [STOWED, RELEASED, FAILED, STOWED]
    assert completion(tms, rid) == (NOT_CONFIRMED, 0b0100)


def test_release_seen_during_cooldown_counts_and_stops_retries():
    r = armed_rig("late")
    r.board.release_after[0] = BURN_MAX + 10  # the satellite leaves just after the cut
    r.board.switches[0] = False
    rid = r.send(CMD_FIRE, 1)
    r.run(BURN_MAX)
    r.board.switches[0] = True
    tms = r.run(COOLDOWN * 2)
    assert len(r.board.burns) == 1
    assert r.app.state.slots[0] == RELEASED
    assert subtypes(tms, rid)[-2:] == [5, 7]


def test_early_release_of_a_never_fired_slot_is_an_event_and_the_slot_is_never_fired():
    r = Rig("early")
    r.run(100)
    r.board.switches[3] = True
    tms = r.run(100)
    assert events(tms, EV_EARLY_RELEASE) == [(EV_EARLY_RELEASE, (4,))]
    assert r.app.state.slots[3] == RELEASED
    r.send(CMD_ARM)
    rid = r.send(CMD_FIRE, 4)
    tms = r.run()
    assert failure(tms, rid)[1:] == (SLOT_RELEASED, 4)
    assert r.board.burns == []


def test_released_slot_reading_stowed_again_is_a_bounce_event_not_a_new_state():
    r = armed_rig("bounce")
    r.board.release_after[1] = 100
    r.send(CMD_FIRE, 2)
    r.run(1000)
    r.board.switches[1] = False
    tms = r.run(100)
    assert events(tms, EV_SWITCH_BOUNCE) == [(EV_SWITCH_BOUNCE, (2,))]
    assert r.app.state.slots[1] == RELEASED


def test_switch_glitch_shorter_than_debounce_is_ignored():
    r = Rig("glitch")
    r.run(100)
    r.board.switches[0] = True
    r.run(DEBOUNCE - 20)
    r.board.switches[0] = False
    tms = r.run(200)
    assert events(tms, EV_EARLY_RELEASE) == []
    assert r.app.state.slots[0] == STOWED


def test_abort_mid_burn_cuts_at_once_and_ends_the_fire_aborted():
    r = armed_rig("abort")
    rid = r.send(CMD_FIRE, 1)
    r.run(500)
    assert r.board.on == 0
    r.send(CMD_ABORT)
    tms = r.run()
    assert r.board.on == -1 and not r.board.arm_out
    assert r.app.seq.state == SAFE
    assert r.board.burns[0][2] - r.board.burns[0][1] <= 500 + 10
    assert completion(tms, rid) == (ABORTED, 0)
    assert events(tms, EV_BURN_END)[0][1][3] == 2  # why: abort
    assert r.app.state.slots[0] == STOWED and r.app.state.attempts[0] == 1


def test_disarm_mid_burn_also_cuts_and_aborts_the_fire():
    r = armed_rig("disarm")
    rid = r.send(CMD_FIRE, 1)
    r.run(200)
    r.send(CMD_DISARM)
    tms = r.run()
    assert r.board.on == -1 and completion(tms, rid) == (ABORTED, 0)


def test_permit_dropping_mid_burn_cuts_disarms_and_says_why():
    r = armed_rig("permit_drop")
    rid = r.send(CMD_FIRE, 1)
    r.run(300)
    r.board.perm = False
    tms = r.run()
    assert r.board.on == -1 and not r.board.arm_out and r.app.seq.state == SAFE
    assert events(tms, EV_ARM_LOST) == [(EV_ARM_LOST, (NO_PERMIT,))]
    assert completion(tms, rid) == (ABORTED, NO_PERMIT)


def test_rbf_going_in_while_armed_disarms():
    r = armed_rig("rbf_drop")
    r.board.rbf = False
    tms = r.run()
    assert events(tms, EV_ARM_LOST) == [(EV_ARM_LOST, (RBF_INSERTED,))]
    assert not r.board.arm_out


def test_hardware_cutoff_ends_a_burn_when_the_loop_stalls():
    r = armed_rig("stall")
    r.send(CMD_FIRE, 1)
    r.run()
    r.board.advance(BURN_MAX + 2000)  # the loop does not run for 5 s
    tms = r.run()
    slot, start, end = r.board.burns[0]
    assert end - start == BURN_MAX
    assert events(tms, EV_HW_CUTOFF) == [(EV_HW_CUTOFF, (1,))]


def test_second_fire_while_burning_is_refused_busy_and_never_energises_a_second_actuator():
    from firmware.tables import BUSY

    r = armed_rig("busy")
    r.send(CMD_FIRE, 1)
    r.run()
    rid = r.send(CMD_FIRE, 2)
    tms = r.run(BURN_MAX)
    assert failure(tms, rid)[1] == BUSY
    assert r.board.violations == []


def test_success_reports_follow_the_ack_flags_and_failures_are_always_sent():
    r = armed_rig("acks")
    r.board.release_after[0] = 100
    rid = r.send(CMD_FIRE, 1, ack=0)
    tms = r.run(1000)
    assert subtypes(tms, rid) == []
    rid = r.send(CMD_FIRE, 1, ack=0)
    tms = r.run()
    assert subtypes(tms, rid) == [4]  # refused at start: slot already released
    rid = r.send(CMD_ARM, ack=ACK_ALL & ~8)
    assert subtypes(r.run(), rid) == [3, 7]


def test_a_release_late_in_a_burn_is_not_burned_again_when_the_debounce_outlasts_the_cooldown():
    from firmware.tables import CMD_PARAM_SET, P_BURN_MAX, P_COOLDOWN, P_DEBOUNCE

    r = Rig("late_release")  # issue 11: every value in its range, the retry due before the debounce ends
    r.run(100)
    for pid, value in ((P_BURN_MAX, 500), (P_COOLDOWN, 500), (P_DEBOUNCE, 1000)):
        r.send(CMD_PARAM_SET, pid, value)
    r.send(CMD_ARM)
    r.run()
    r.board.release_after[0] = 300  # the satellite leaves 300 ms into the first burn
    rid = r.send(CMD_FIRE, 1)
    tms = r.run(5000)
    assert len(r.board.burns) == 1
    assert r.app.state.slots[0] == RELEASED
    assert events(tms, EV_RELEASED) == [(EV_RELEASED, (1, 1))]
    assert subtypes(tms, rid)[-1] == 7  # COMPLETED


def test_fire_just_after_an_aborted_burn_waits_for_the_switch_to_settle():
    from firmware.tables import SWITCH_SETTLE_MS, SWITCH_SETTLING

    r = armed_rig("settle_after_abort")
    r.send(CMD_FIRE, 1)
    r.run(500)
    r.send(CMD_ABORT)  # the satellite may have left in the last instant: its switch can lag
    r.run()
    r.send(CMD_ARM)
    rid = r.send(CMD_FIRE, 1)
    tms = r.run()
    assert failure(tms, rid)[1:] == (SWITCH_SETTLING, 1)
    assert len(r.board.burns) == 1
    r.run(SWITCH_SETTLE_MS)
    r.send(CMD_FIRE, 1)
    r.run()
    assert r.board.on == 0  # settled and still stowed: it burns


def test_fire_after_an_abort_as_the_satellite_left_is_refused_and_the_release_is_recorded():
    from firmware.tables import SWITCH_SETTLING

    r = armed_rig("abort_release")
    r.send(CMD_FIRE, 1)
    r.run(500)
    r.board.switches[0] = True  # it leaves as the operator aborts
    r.send(CMD_ABORT)
    r.run()
    r.send(CMD_ARM)
    rid = r.send(CMD_FIRE, 1)
    tms = r.run()
    assert failure(tms, rid)[1:] == (SWITCH_SETTLING, 1)
    r.run(DEBOUNCE + 100)
    assert len(r.board.burns) == 1 and r.app.state.slots[0] == RELEASED


def test_a_sequence_waits_for_a_slot_whose_switch_is_changing_and_never_burns_it_once_released():
    r = armed_rig("seq_settling")
    r.board.release_after[0] = 100
    rid = r.send(CMD_FIRE_SEQUENCE, 0b0011, 0)
    r.run(120)  # slot 1's switch reads released, not yet debounced
    r.board.switches[1] = True  # slot 2 leaves on its own just before slot 1 is confirmed
    tms = r.run(1000)
    assert [b[0] for b in r.board.burns] == [0]
    assert list(r.app.state.slots[:2]) == [RELEASED, RELEASED]
    assert events(tms, EV_EARLY_RELEASE) == [(EV_EARLY_RELEASE, (2,))]
    assert subtypes(tms, rid)[-1] == 7
