"""Resets at any instant: SAFE, outputs off, slots settled by their switches, no double burn."""

import os

from firmware.tables import (
    ABORTED,
    CMD_ARM,
    CMD_FIRE,
    CMD_PING,
    DUPLICATE,
    EV_BOOT,
    EV_RECORD_CORRUPT,
    EV_RECORD_MISSING,
    EV_SLOT_RESOLVED,
    EV_SLOT_UNKNOWN,
    FAILED,
    RELEASED,
    SAFE,
    SLOT_FIRING,
    STOWED,
    UNKNOWN,
)
from tests.firmware.fakes import Rig, events, failure

BURN_MAX = 3000
COOLDOWN = 5000


def armed_rig(name):
    r = Rig(name)
    r.run(100)
    r.send(CMD_ARM)
    r.run()
    return r


def assert_safe_and_quiet(r, ms=20000):
    """After a reset: SAFE, arm line and actuators off, and no burn for ``ms``."""
    n = len(r.board.burns)
    r.run(ms)
    assert r.app.seq.state == SAFE and not r.board.arm_out and r.board.on == -1
    assert len(r.board.burns) == n


def test_first_boot_reports_missing_records_and_boots_safe_with_slots_resolved():
    r = Rig("boot_first")
    tms = r.run(100)
    assert sorted(e[1][0] for e in events(tms, EV_RECORD_MISSING)) == [1, 2, 3]
    assert events(tms, EV_RECORD_CORRUPT) == []  # missing is not corrupt
    assert events(tms, EV_BOOT) == [(EV_BOOT, (1, 0))]
    assert len(events(tms, EV_SLOT_RESOLVED)) == 4
    assert list(r.app.state.slots) == [STOWED] * 4


def test_reset_while_safe_counts_the_boot_and_reports_the_cause():
    r = Rig("reset_safe")
    r.run(100)
    tms = r.reset(2)
    assert events(tms, EV_BOOT) == [(EV_BOOT, (2, 2))]
    assert events(tms, EV_RECORD_CORRUPT) == []
    assert_safe_and_quiet(r)


def test_reset_while_armed_comes_back_safe_and_disarmed():
    r = armed_rig("reset_armed")
    r.reset()
    assert_safe_and_quiet(r)


def test_reset_mid_burn_makes_the_slot_unknown_until_its_switch_says_stowed():
    r = armed_rig("reset_burn_stowed")
    r.send(CMD_FIRE, 1)
    r.run(500)
    assert r.app.state.slots[0] == SLOT_FIRING
    tms = r.reset()
    assert events(tms, EV_SLOT_UNKNOWN) == [(EV_SLOT_UNKNOWN, (1,))]
    assert r.app.state.slots[0] == UNKNOWN
    tms = r.run(100)
    assert events(tms, EV_SLOT_RESOLVED) == [(EV_SLOT_RESOLVED, (1, STOWED))]
    assert r.app.state.slots[0] == STOWED and r.app.state.attempts[0] == 1
    assert_safe_and_quiet(r)


def test_reset_mid_burn_after_the_satellite_left_resolves_released():
    r = armed_rig("reset_burn_released")
    r.send(CMD_FIRE, 2)
    r.run(500)
    r.board.switches[1] = True  # left just as the power went
    r.reset()
    tms = r.run(100)
    assert events(tms, EV_SLOT_RESOLVED) == [(EV_SLOT_RESOLVED, (2, RELEASED))]
    assert_safe_and_quiet(r)


def test_reset_in_cooldown_keeps_attempts_so_burns_stay_bounded_across_resets():
    r = armed_rig("reset_cooldown")
    r.send(CMD_FIRE, 1)
    r.run(BURN_MAX + 100)  # first burn over, cooling down
    r.reset()
    r.run(100)
    assert r.app.state.attempts[0] == 1
    for _ in range(3):  # the operator keeps trying; each try is a new command
        r.send(CMD_ARM)
        r.send(CMD_FIRE, 1)
        r.run(BURN_MAX + 100)
        r.reset()
        r.run(100)
    assert len(r.board.burns) == 3  # 1 + RETRIES, whatever the resets
    r.send(CMD_ARM)
    rid = r.send(CMD_FIRE, 1)
    tms = r.run(100)
    assert r.app.state.slots[0] == FAILED
    assert len(r.board.burns) == 3
    assert failure(tms, rid) is not None


def test_reset_after_release_never_fires_the_slot_again():
    r = armed_rig("reset_released")
    r.board.release_after[0] = 100
    r.send(CMD_FIRE, 1)
    r.run(1000)
    r.reset()
    r.send(CMD_ARM)
    r.send(CMD_FIRE, 1)
    r.run(1000)
    assert len(r.board.burns) == 1 and r.app.state.slots[0] == RELEASED


def test_command_running_at_the_reset_is_a_duplicate_afterwards_recorded_aborted():
    r = armed_rig("reset_dup")
    packet = r.tc(CMD_FIRE, 1)
    rid = r.send_raw(packet)
    r.run(200)
    r.reset()
    r.run(100)
    r.send(CMD_ARM)
    r.send_raw(packet)
    tms = r.run(1000)
    assert failure(tms, rid) == (2, DUPLICATE, ABORTED)
    assert len(r.board.burns) == 1


def test_completed_command_is_still_a_duplicate_after_reset():
    r = Rig("reset_dup_done")
    packet = r.tc(CMD_PING)
    rid = r.send_raw(packet)
    r.run()
    r.reset()
    r.send_raw(packet)
    assert failure(r.run(), rid) == (2, DUPLICATE, 0)


def corrupt(r, name, how):
    path = r.board.fs_root + "/" + name + ".rec"
    with open(path, "rb") as f:
        data = bytearray(f.read())
    with open(path, "wb") as f:
        f.write(how(data))


def test_corrupt_state_record_gives_safe_defaults_and_an_event_never_a_crash():
    r = armed_rig("corrupt_state")
    r.board.release_after[0] = 100
    r.send(CMD_FIRE, 1)
    r.run(1000)

    def flip(d):
        d[3] ^= 0xFF
        return d

    corrupt(r, "state", flip)
    tms = r.reset()
    assert events(tms, EV_RECORD_CORRUPT) == [(EV_RECORD_CORRUPT, (1,))]
    assert list(r.app.state.slots) == [UNKNOWN] * 4
    r.run(100)
    assert list(r.app.state.slots) == [RELEASED, STOWED, STOWED, STOWED]  # the switches tell
    assert_safe_and_quiet(r)


def test_truncated_params_record_falls_back_to_defaults_with_an_event():
    from firmware.tables import CMD_PARAM_SET, P_BURN_MAX

    r = Rig("corrupt_params")
    r.send(CMD_PARAM_SET, P_BURN_MAX, 500)
    r.run()
    corrupt(r, "params", lambda d: d[:5])
    tms = r.reset()
    assert events(tms, EV_RECORD_CORRUPT) == [(EV_RECORD_CORRUPT, (2,))]
    assert r.app.params.get(P_BURN_MAX) == 3000


def test_garbage_schedule_record_gives_an_empty_enabled_schedule():
    r = Rig("corrupt_sched")
    r.run()
    corrupt(r, "schedule", lambda d: bytes(len(d)))
    tms = r.reset()
    assert events(tms, EV_RECORD_CORRUPT) == [(EV_RECORD_CORRUPT, (3,))]
    assert r.app.schedule.count() == 0 and r.app.schedule.enabled


def test_interrupted_save_leaves_the_previous_record():
    r = Rig("torn_write")
    r.run(100)
    with open(r.board.fs_root + "/state.tmp", "wb") as f:
        f.write(b"half a rec")  # power cut before the rename
    tms = r.reset()
    assert events(tms, EV_RECORD_CORRUPT) == []
    assert r.app.state.boot_count == 2


def test_record_whose_rename_was_cut_short_is_recovered_from_its_temp_file():
    r = Rig("rename_cut")
    r.run(100)
    root = r.board.fs_root
    os.rename(root + "/state.rec", root + "/state.tmp")  # FAT: removed, then the power went
    tms = r.reset()
    assert events(tms, EV_RECORD_CORRUPT) == []
    assert r.app.state.boot_count == 2


def test_fire_before_the_switches_are_read_after_boot_is_refused():
    from firmware.tables import SWITCH_SETTLING

    r = Rig("fire_at_boot")
    r.run(100)
    r.reset()
    r.send(CMD_ARM)
    rid = r.send(CMD_FIRE, 1)
    tms = r.run()  # one iteration: DEBOUNCE has not passed yet
    assert failure(tms, rid)[1:] == (SWITCH_SETTLING, 1)
    assert r.board.burns == []
