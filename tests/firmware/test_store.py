"""Where records go (backup SRAM, flash) and when: the store alone, then what commands write."""

import os

from firmware.store import Store
from firmware.tables import (
    BUSY,
    CMD_ABORT,
    CMD_ARM,
    CMD_FIRE,
    CMD_HK_ONE_SHOT,
    CMD_PARAM_GET,
    CMD_PARAM_SET,
    CMD_PING,
    CMD_SAFE,
    CMD_SCHED_INSERT,
    CMD_SCHED_LIST,
    CMD_TIME_REPORT,
    CMD_TIME_SET,
    EV_RECORD_CORRUPT,
    EV_RECORD_MISSING,
    EV_SCHEDULE_RELEASED,
    HK_SID,
    P_ARM_WINDOW,
    REC_PARAMS,
    REC_STATE,
    RELEASED,
)
from tests.firmware.fakes import FakeBoard, Rig, events, failure, fresh_dir, garbage, subtypes

BURN_MAX = 3000


class Events:
    def __init__(self):
        self.got = []

    def event(self, eid, *fields):
        self.got.append(eid)


def store(name, fs_atomic=True):
    board = FakeBoard(fresh_dir(name))
    board.fs_atomic = fs_atomic
    return board, Store(board, Events())


def files(root):
    """{name: bytes} of every file on the fake flash."""
    out = {}
    for name in os.listdir(root):
        with open(root + "/" + name, "rb") as f:
            out[name] = f.read()
    return out


def test_a_durable_save_reaches_flash_and_a_plain_one_only_the_backup_sram():
    board, st = store("store_durable")
    assert st.save(REC_PARAMS, bytearray(b"first"), True)
    flash = files(board.fs_root)
    assert st.save(REC_PARAMS, bytearray(b"again"), False)
    assert files(board.fs_root) == flash
    buf = bytearray(5)
    assert Store(board, Events()).load(REC_PARAMS, buf) and buf == b"again"  # the backup is newer
    garbage(board.backup, 7)  # power lost, no VBAT
    assert Store(board, Events()).load(REC_PARAMS, buf) and buf == b"first"


def test_a_write_torn_in_the_backup_sram_leaves_the_previous_save():
    board, st = store("store_torn")
    for word in (b"one..", b"two..", b"three"):
        st.save(REC_STATE, bytearray(word), False)
    slot = 7 + 5 + 2  # header, payload, CRC: "three" (generation 3) is in slot 1
    board.backup[slot + 8] ^= 0xFF  # the cut came mid-payload
    buf = bytearray(5)
    assert Store(board, Events()).load(REC_STATE, buf) and buf == b"two.."


def test_no_valid_copy_anywhere_is_missing_or_corrupt_never_a_crash():
    board, st = store("store_none")
    tm = Events()
    assert not Store(board, tm).load(REC_STATE, bytearray(4)) and tm.got == [EV_RECORD_MISSING]
    st.save(REC_STATE, bytearray(b"abcd"), True)
    with open(board.fs_root + "/state.rec", "wb") as f:
        f.write(b"junk")
    garbage(board.backup, 3)
    tm = Events()
    assert not Store(board, tm).load(REC_STATE, bytearray(4)) and tm.got == [EV_RECORD_CORRUPT]


def test_a_durable_save_while_an_actuator_is_on_waits_for_the_cut():
    board, st = store("store_held")
    st.save(REC_STATE, bytearray(b"old"), True)
    flash = files(board.fs_root)
    board.on = 2  # burning
    assert st.save(REC_STATE, bytearray(b"new"), True)
    st.flush()
    assert files(board.fs_root) == flash and st.pending
    board.on = -1
    assert st.flush() and not st.pending
    garbage(board.backup, 5)
    buf = bytearray(3)
    assert Store(board, Events()).load(REC_STATE, buf) and buf == b"new"


def test_on_fat_a_record_goes_through_a_temp_file_and_a_cut_before_the_rename_keeps_it():
    board, st = store("store_fat", fs_atomic=False)
    st.save(REC_STATE, bytearray(b"v1"), True)
    st.save(REC_STATE, bytearray(b"v2"), True)
    assert sorted(os.listdir(board.fs_root)) == ["state.rec"]
    os.rename(board.fs_root + "/state.rec", board.fs_root + "/state.tmp")  # removed, then the power went
    garbage(board.backup, 9)
    buf = bytearray(2)
    assert Store(board, Events()).load(REC_STATE, buf) and buf == b"v2"


# --- what the application writes --------------------------------------------------------

def test_a_long_session_of_reading_commands_writes_nothing_to_flash():
    r = Rig("reads_no_flash")
    r.run(100)
    flash = files(r.board.fs_root)
    for _ in range(50):
        for cmd, args in ((CMD_PING, ()), (CMD_HK_ONE_SHOT, (HK_SID,)), (CMD_PARAM_GET, (P_ARM_WINDOW,)),
                          (CMD_TIME_REPORT, ()), (CMD_SCHED_LIST, ()), (CMD_TIME_SET, (100, 0))):
            r.send(cmd, *args)
        r.run(100)
        r.tms.clear()  # the heap of the unix-port run
    assert r.app.verification.accepted == 300
    assert files(r.board.fs_root) == flash


def burning_rig(name):
    r = Rig(name)
    r.run(100)
    r.send(CMD_ARM)
    r.send(CMD_FIRE, 1)  # slot 1 never releases: it burns until BURN_MAX
    r.run(100)
    assert r.board.on == 0
    return r


def test_a_switch_change_during_a_burn_reaches_flash_only_after_the_cut():
    r = burning_rig("switch_in_burn")
    flash = files(r.board.fs_root)
    r.board.switches[2] = True  # slot 3 leaves on its own
    r.run(500)
    assert r.app.state.slots[2] == RELEASED and r.board.on == 0
    assert files(r.board.fs_root) == flash
    r.run(BURN_MAX)
    assert r.board.on == -1 and files(r.board.fs_root) != flash
    r.power_loss()
    assert r.app.state.slots[2] == RELEASED


def test_persisted_commands_are_refused_busy_while_an_actuator_is_on_but_safe_and_reads_are_not():
    r = burning_rig("busy_in_burn")
    flash = files(r.board.fs_root)
    busy = [r.send(CMD_PARAM_SET, P_ARM_WINDOW, 90), r.send(CMD_SCHED_INSERT, 200, 0, extra=r.tc(CMD_PING))]
    ping = r.send(CMD_PING)
    tms = r.run()
    assert [failure(tms, rid) for rid in busy] == [(2, BUSY, 0)] * 2
    assert subtypes(tms, ping) == [1, 3, 7]
    assert files(r.board.fs_root) == flash and r.board.on == 0
    safe = r.send(CMD_SAFE)
    tms = r.run()
    assert subtypes(tms, safe) == [1, 3, 7] and r.board.on == -1
    assert files(r.board.fs_root) != flash


def test_abort_during_a_burn_is_accepted_and_cuts_at_once():
    r = burning_rig("abort_in_burn")
    rid = r.send(CMD_ABORT)
    tms = r.run()
    assert subtypes(tms, rid) == [1, 3, 7] and r.board.on == -1


def test_a_due_time_tagged_command_waits_for_the_actuator_to_go_off():
    r = Rig("sched_in_burn")
    r.run(100)
    r.send(CMD_TIME_SET, 100, 0)
    r.send(CMD_SCHED_INSERT, 100, 1000, extra=r.tc(CMD_PING))
    r.send(CMD_ARM)
    r.send(CMD_FIRE, 1)
    tms = r.run(BURN_MAX - 500)  # the release time passed 1 s into the burn
    assert r.board.on == 0 and events(tms, EV_SCHEDULE_RELEASED) == []
    tms = r.run(1000)
    assert r.board.on == -1 and len(events(tms, EV_SCHEDULE_RELEASED)) == 1


def test_the_state_record_file_fits_a_littlefs_inline_entry_of_64_bytes():
    r = Rig("state_size")
    r.run(100)
    assert os.stat(r.board.fs_root + "/state.rec")[6] <= 64  # st_size: saved in its directory entry


def test_a_record_loaded_from_flash_after_a_power_loss_is_copied_to_the_backup_sram():
    board, st = store("store_recopy")
    st.save(REC_PARAMS, bytearray(b"kept"), True)
    garbage(board.backup, 11)  # power lost, no VBAT
    assert Store(board, Events()).load(REC_PARAMS, bytearray(4))
    os.remove(board.fs_root + "/params.rec")  # then a reset inside the sector's write-back
    buf = bytearray(4)
    assert Store(board, Events()).load(REC_PARAMS, buf) and buf == b"kept"
