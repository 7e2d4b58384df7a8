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
from firmware.telemetry import COMPLETE
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
    assert sorted(e[1][0] for e in events(tms, EV_RECORD_MISSING)) == [1, 2, 3, 4]
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
    tms = r.power_loss()  # no VBAT: the backup SRAM's copy is gone too
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
    tms = r.power_loss()
    assert events(tms, EV_RECORD_CORRUPT) == [(EV_RECORD_CORRUPT, (2,))]
    assert r.app.params.get(P_BURN_MAX) == 3000


def test_garbage_schedule_record_gives_an_empty_enabled_schedule():
    r = Rig("corrupt_sched")
    r.run()
    corrupt(r, "schedule", lambda d: bytes(len(d)))
    tms = r.power_loss()
    assert events(tms, EV_RECORD_CORRUPT) == [(EV_RECORD_CORRUPT, (3,))]
    assert r.app.schedule.count() == 0 and r.app.schedule.enabled


def test_interrupted_save_leaves_the_previous_record():
    r = Rig("torn_write")
    r.run(100)
    with open(r.board.fs_root + "/state.tmp", "wb") as f:
        f.write(b"half a rec")  # power cut before the rename (FAT)
    tms = r.power_loss()
    assert events(tms, EV_RECORD_CORRUPT) == []
    assert r.app.state.boot_count == 2


def test_record_whose_rename_was_cut_short_is_recovered_from_its_temp_file():
    r = Rig("rename_cut")
    r.run(100)
    root = r.board.fs_root
    os.rename(root + "/state.rec", root + "/state.tmp")  # FAT: removed, then the power went
    tms = r.power_loss()
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


def test_a_flash_record_lost_to_a_reset_comes_back_from_the_backup_sram_and_is_rewritten():
    r = armed_rig("restore_backup")
    r.board.release_after[0] = 100
    r.send(CMD_FIRE, 1)
    r.run(1000)
    os.remove(r.board.fs_root + "/state.rec")  # a reset inside its sector's write-back
    tms = r.reset()
    assert events(tms, EV_RECORD_MISSING) == [] and events(tms, EV_RECORD_CORRUPT) == []
    assert r.app.state.slots[0] == RELEASED and r.app.state.boot_count == 2
    r.run()
    tms = r.power_loss()  # the flash copy was written again
    assert r.app.state.slots[0] == RELEASED and r.app.state.boot_count == 3


def sent_param_set_then_ping(name):
    """A Rig that ran a PARAM_SET (persisted) then a PING (not); returns (rig, both packets)."""
    from firmware.tables import CMD_PARAM_SET, P_ARM_WINDOW

    r = Rig(name)
    r.run(100)
    packets = [r.tc(CMD_PARAM_SET, P_ARM_WINDOW, 90), r.tc(CMD_PING)]
    for p in packets:
        r.send_raw(p)
    r.run()
    return r, packets


def repeat(r, packets):
    """Send ``packets`` again; the failure (code, data) of each, None if it ran."""
    rids = [r.send_raw(p) for p in packets]
    tms = r.run(100)
    return [failure(tms, rid) and failure(tms, rid)[1:] for rid in rids]


def test_across_a_power_loss_without_vbat_a_persisted_command_stays_a_duplicate_and_a_ping_may_run_again():
    r, packets = sent_param_set_then_ping("exactly_once_power")
    r.power_loss(vbat=False)
    assert repeat(r, packets) == [(DUPLICATE, 0), None]


def test_across_a_reset_or_a_power_loss_with_vbat_every_command_stays_a_duplicate():
    r, packets = sent_param_set_then_ping("exactly_once_vbat")
    r.reset(2)
    assert repeat(r, packets) == [(DUPLICATE, 0), (DUPLICATE, 0)]
    r.power_loss(vbat=True)
    assert repeat(r, packets) == [(DUPLICATE, 0), (DUPLICATE, 0)]


def test_a_fire_cut_short_by_a_power_loss_without_vbat_never_fires_again():
    r = armed_rig("fire_on_flash")
    packet = r.tc(CMD_FIRE, 1)
    rid = r.send_raw(packet)
    r.app.step()  # accepted, recorded on flash, burning
    assert r.board.on == 0
    r.power_loss(vbat=False)
    r.run(100)
    r.send(CMD_ARM)
    r.send_raw(packet)
    tms = r.run(1000)
    assert failure(tms, rid) == (2, DUPLICATE, ABORTED)
    assert len(r.board.burns) == 1 and r.board.on == -1


def storage(r):
    """The backup SRAM and every flash file, as they are now."""
    root = r.board.fs_root
    files = {}
    for name in os.listdir(root):
        with open(root + "/" + name, "rb") as f:
            files[name] = f.read()
    return bytes(r.board.backup), files


def put_back(r, saved):
    mem, files = saved
    root = r.board.fs_root
    r.board.backup[:] = mem
    for name in os.listdir(root):
        os.remove(root + "/" + name)
    for name, data in files.items():
        with open(root + "/" + name, "wb") as f:
            f.write(data)


def test_a_reset_as_a_fire_is_reported_complete_keeps_the_outcome_reported():
    r = armed_rig("recorded_before_reported")
    r.board.release_after[0] = 500
    packet = r.tc(CMD_FIRE, 1)
    rid = r.send_raw(packet)
    at_report = []
    verify = r.app.tm.verify

    def spy(stage, req, *args, **kw):
        if stage == COMPLETE and req == rid:
            at_report.append(storage(r))  # what a reset at this instant would find
        return verify(stage, req, *args, **kw)

    r.app.tm.verify = spy
    r.run(2000)
    assert r.app.state.slots[0] == RELEASED and len(at_report) == 1
    put_back(r, at_report[0])
    r.reset()
    r.send_raw(packet)
    assert failure(r.run(), rid) == (2, DUPLICATE, 0)
