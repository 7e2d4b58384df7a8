"""The simulated hardware as the firmware meets it (through a probe app on the board)
and as tests and the HIL suite drive it (the link and the control channel only)."""

import time

import pytest

from firmware.dictionary import RESET_CAUSES
from sim import BOARD_HEAP
from sim.hardware import WATCHDOG_S
from sim.link import RX_HELD
from tests.sim.simproc import Sim, wait_for

CAUSE = {name: "boot %d" % i for i, name in enumerate(RESET_CAUSES)}  # the probe's boot line
CUTOFF_MS = 300
SECTOR_16K_ERASE_MS = 250  # sim/board.py _TIMING, typical
IDLE_FLUSH_S = 5  # flashbdev.c: write-back 5 s after the last write
STALLED_CUTOFF_MS = 100


@pytest.fixture
def sim():
    with Sim() as s:
        link = s.probe_link()
        yield s, link
        link.close()


def slot(s, n):
    return s.do("state")["slots"][n - 1]


def test_board_boots_with_every_output_off_and_the_watchdog_running(sim):
    s, _ = sim
    state = s.do("state")
    assert state["board"] == {"running": True, "starts": 1, "last_reset": "POWER_ON", "watchdog": True,
                              "longest_unfed_ms": state["board"]["longest_unfed_ms"], "vbat": False}
    assert state["outputs"] == {"arm": False, "actuators": [False] * 4, "led": False}
    assert state["inputs"] == {"rbf_removed": True, "permit": True}


def test_inputs_set_on_the_control_channel_reach_the_board(sim):
    s, link = sim
    assert link.ask("in") == "in 1 1 0000"
    s.do("set", input="permit", value=False)
    s.do("set", input="rbf_removed", value=False)
    wait_for(lambda: link.ask("in") == "in 0 0 0000", 2, "both inputs low on the board")


def test_outputs_driven_by_the_board_show_on_the_control_channel(sim):
    s, link = sim
    for cmd in ("arm 1", "led 1", "burn 2 5000"):
        assert link.ask(cmd) == "ok"
    outputs = s.do("state")["outputs"]
    assert outputs == {"arm": True, "actuators": [False, False, True, False], "led": True}


def test_burn_releases_the_satellite_and_the_board_reads_its_switch(sim):
    s, link = sim
    link.ask("arm 1")
    link.ask("burn 0 3000")
    wait_for(lambda: link.ask("in") == "in 1 1 1000", 3, "slot 1 switch reading released")
    link.ask("cut")
    burn = s.do("burns")["burns"][0]
    assert burn["slot"] == 1 and burn["end_by"] == "firmware" and burn["powered"]
    assert slot(s, 1)["released"] and not slot(s, 1)["actuator"]


def test_hardware_cutoff_ends_a_burn_the_firmware_never_cuts(sim):
    s, link = sim
    s.do("inject", fault="open_circuit", slot=2)
    link.ask("arm 1")
    link.ask("burn 1 %d" % CUTOFF_MS)
    wait_for(lambda: link.ask("burning") == "burning -1", 2, "the board to see the cutoff")
    burn = s.do("burns")["burns"][0]
    assert burn["end_by"] == "cutoff" and not burn["powered"]
    assert burn["end"] - burn["start"] == pytest.approx(CUTOFF_MS / 1000, abs=0.05)
    assert not slot(s, 2)["released"]


def test_starved_watchdog_resets_the_board_with_outputs_off(sim):
    s, link = sim
    link.ask("arm 1")
    link.send(b"starve\n")
    assert link.line(WATCHDOG_S + 3) == "starve"
    assert link.line(WATCHDOG_S + 3) == CAUSE["WATCHDOG"]
    state = s.do("state")
    assert state["board"]["last_reset"] == "WATCHDOG" and state["board"]["starts"] == 2
    assert not state["outputs"]["arm"]


@pytest.mark.parametrize("cmd, args, cause", [
    ("reset", {}, "HARD"),
    ("power_cycle", {"off_ms": 50}, "POWER_ON"),
])
def test_reset_and_power_cycle_restart_the_firmware_with_their_cause(sim, cmd, args, cause):
    s, link = sim
    link.ask("burn 3 5000")
    s.do(cmd, **args)
    assert link.line() == CAUSE[cause]
    assert s.do("state")["board"]["last_reset"] == cause
    assert s.do("burns")["burns"][0]["end_by"] == "reset"


def test_firmware_requested_reset_is_a_soft_reset(sim):
    _, link = sim
    link.send(b"reset\n")
    assert link.line() == CAUSE["SOFT"]


def test_brownout_at_burn_start_resets_the_board_mid_burn(sim):
    s, link = sim
    s.do("inject", fault="brownout", at="burn_start")
    assert s.do("state")["faults"]["brownout"] == {"at": "burn_start"}
    link.ask("arm 1")
    link.send(b"burn 0 3000\n")
    link.read_until(lambda rx: CAUSE["BROWN_OUT"].encode() in rx, 5)
    assert s.do("burns")["burns"][0]["end_by"] == "reset"
    assert s.do("state")["faults"]["brownout"] is None


def test_brownout_after_a_delay_resets_the_board_once(sim):
    s, link = sim
    s.do("inject", fault="brownout", after_ms=200)
    assert link.line() == CAUSE["BROWN_OUT"]
    assert link.ask("echo still up") == "echo still up"
    assert s.do("state")["board"]["starts"] == 2


def test_flash_keeps_records_across_resets(sim):
    s, link = sim
    assert link.ask("save kept") == "saved"
    s.do("power_cycle", off_ms=0)
    assert link.line() == CAUSE["POWER_ON"]
    assert link.ask("load") == "rec kept"


def test_fat_flash_keeps_records_across_resets_and_erases_its_sectors():
    with Sim("--fs", "fat") as s:
        link = s.probe_link()
        assert link.ask("save kept") == "saved"
        s.do("power_cycle", off_ms=0)
        assert link.line() == CAUSE["POWER_ON"]
        assert link.ask("load") == "rec kept"
        assert sum(s.do("state")["flash"]["erases"]) > 0
        link.close()


@pytest.mark.parametrize("write, survivors", [(1, ["rec old"]), (2, ["rec old", "rec new"]),
                                               (3, ["rec old", "rec new"])])
def test_power_cut_during_a_flash_write_keeps_a_whole_record(sim, write, survivors):
    s, link = sim
    assert link.ask("save old") == "saved"
    s.do("inject", fault="powercut", write=write, bytes=100)
    link.send(b"save new\n")
    assert link.line() == CAUSE["POWER_ON"], "the power cut did not happen"
    assert link.ask("load") in survivors
    assert link.ask("save again") == "saved"  # littlefs still mounts and writes


def erases(s):
    return s.do("state")["flash"]["erases"]


def test_a_record_save_erases_its_sector_and_freezes_the_firmware_for_the_erase(sim):
    s, link = sim
    before = erases(s)
    t0 = time.monotonic()
    assert link.ask("save kept") == "saved"
    took = time.monotonic() - t0
    flash = s.do("state")["flash"]
    assert sum(flash["erases"]) > sum(before)
    assert flash["stalls"]["total_ms"] >= SECTOR_16K_ERASE_MS
    assert took >= SECTOR_16K_ERASE_MS / 1000  # the probe answered only after the stall


def erased_sector(s, before):
    """The one sector (0..3 as in "erases") erased since ``before``, once there is one."""
    now = wait_for(lambda: (e := erases(s)) != before and e, 1.5, "the storage tick's erase")
    assert sum(now) == sum(before) + 1, now
    return next(i for i, (a, b) in enumerate(zip(before, now, strict=True)) if a != b)


def sector_bytes(state_dir, i):
    blocks = (0, 32, 64, 96, 224)  # sim/board.py _SECTOR_END: /flash's sectors 1..4
    return (state_dir / "flash.img").read_bytes()[blocks[i] * 512:blocks[i + 1] * 512]


def test_a_sector_left_dirty_is_erased_on_the_storage_tick_and_only_rewritten_5_s_later(tmp_path):
    with Sim("--state-dir", str(tmp_path)) as s:
        link = s.probe_link()
        assert link.ask("open 0") == "ok"  # the file exists: appending to it commits nothing
        before = erases(s)
        assert link.ask("open 384") == "ok"  # one block, in the sector cache: never synced
        i = erased_sector(s, before)
        size = len(sector_bytes(tmp_path, i))
        assert sector_bytes(tmp_path, i) == b"\xff" * size  # its blocks, every file's, are in RAM only
        wait_for(lambda: sector_bytes(tmp_path, i) != b"\xff" * size, IDLE_FLUSH_S + 2, "the write-back")
        link.close()


@pytest.mark.parametrize("cut", [{"erase": 1}, {"program": 1, "bytes": 0}, {"program": 1, "bytes": 512}])
def test_power_cut_inside_a_sector_write_back_loses_the_sector_it_was_writing(sim, cut):
    s, link = sim
    assert link.ask("save old") == "saved"
    s.do("inject", fault="powercut", **cut)
    link.send(b"save new\n")
    assert link.line() == CAUSE["POWER_ON"], "the power cut did not happen"
    assert link.ask("load") == "rec -"  # the directory of a fresh filesystem sits in sector 1
    assert link.ask("save again") == "saved"  # the board formats its flash and goes on
    assert s.do("state")["flash"]["sectors_lost"] == 1


def test_the_hardware_cutoff_ends_a_burn_at_max_ms_through_a_flash_stall_longer_than_the_burn(sim):
    """The cutoff is TIM1's channel on the actuator pin: the counter runs on while the CPU stalls."""
    s, link = sim
    link.ask("arm 1")
    assert link.ask("burn 1 %d" % STALLED_CUTOFF_MS) == "ok"
    assert link.ask("save x") == "saved"  # erase + write-back: longer than the cutoff
    wait_for(lambda: link.ask("burning") == "burning -1", 2, "the cutoff")
    burn = s.do("burns")["burns"][0]
    assert burn["end_by"] == "cutoff"
    assert burn["end"] - burn["start"] == pytest.approx(STALLED_CUTOFF_MS / 1000, abs=1e-6)
    stalls = s.do("state")["flash"]["stalls"]
    assert stalls["during_burn"] >= 1 and stalls["longest_ms"] >= SECTOR_16K_ERASE_MS > STALLED_CUTOFF_MS


def test_backup_sram_survives_resets_but_a_power_cycle_only_with_vbat(sim):
    s, link = sim
    assert link.ask("poke 100 c0ffee") == "ok"
    s.do("reset")
    assert link.line() == CAUSE["HARD"]
    assert link.ask("peek 100 3") == "mem c0ffee"
    s.do("power_cycle", off_ms=0)
    assert link.line() == CAUSE["POWER_ON"]
    assert link.ask("peek 100 3") != "mem c0ffee"
    s.do("set", input="vbat", value=True)
    assert link.ask("poke 100 c0ffee") == "ok"
    s.do("power_cycle", off_ms=0)
    assert link.line() == CAUSE["POWER_ON"]
    assert link.ask("peek 100 3") == "mem c0ffee"


def test_power_cut_during_a_backup_write_leaves_the_bytes_written_so_far(sim):
    s, link = sim
    s.do("set", input="vbat", value=True)
    assert link.ask("poke 0 00000000") == "ok"
    s.do("inject", fault="powercut", backup=1, bytes=2)
    link.send(b"poke 0 11223344\n")
    assert link.line() == CAUSE["POWER_ON"]
    assert link.ask("peek 0 4") == "mem 11220000"


def test_link_noise_applies_to_every_byte_until_cleared(sim):
    s, link = sim
    s.do("inject", fault="noise", drop=1.0)
    link.send(b"echo lost\n")
    with pytest.raises(AssertionError, match="timed out"):
        link.line(0.5)
    s.do("clear", fault="noise")
    assert link.ask("echo back") == "echo back"
    assert s.do("state")["link"]["dropped"] == len(b"echo lost\n")


def test_early_release_and_stuck_switches_show_in_slot_state(sim):
    s, link = sim
    s.do("inject", fault="early_release", slot=1)
    s.do("inject", fault="stuck_open", slot=3)
    wait_for(lambda: link.ask("in") == "in 1 1 1010", 2, "switches 1 and 3 reading released")
    assert [(x["released"], x["faults"]) for x in s.do("state")["slots"]] == [
        (True, []), (False, []), (False, ["stuck_open"]), (False, [])]
    s.do("clear")
    s.do("stow", slot=1)
    wait_for(lambda: link.ask("in") == "in 1 1 0000", 2, "every switch stowed")


@pytest.mark.parametrize("request_, error", [
    ({"cmd": "fly"}, "unknown cmd 'fly'"),
    ({"cmd": "inject", "fault": "stuck_closed", "slot": 5}, '"slot" must be 1..4'),
    ({"cmd": "inject", "fault": "gremlins"}, "unknown fault 'gremlins'"),
    ({"cmd": "set", "input": "permit", "value": 1}, '"value" must be true or false'),
    ({"cmd": "inject", "fault": "noise", "flip": 2}, "noise rates are probabilities"),
    ({"cmd": "inject", "fault": "brownout"}, "brownout needs"),
    ({"cmd": "inject", "fault": "powercut", "erase": 1, "backup": 2}, "powercut needs one of"),
    ({"cmd": "config", "bounce": 3}, "unknown setting 'bounce'"),
])
def test_bad_control_requests_are_answered_with_the_reason(sim, request_, error):
    s, _ = sim
    cmd = request_.pop("cmd")
    answer = s.control(cmd, **request_)
    assert answer["ok"] is False and error in answer["error"]
    assert s.do("state")["board"]["running"]  # and the channel still works


def test_firmware_beyond_the_heap_cap_stops_the_sim_loudly(sim):
    s, link = sim
    link.send(b"alloc %d\n" % (int(BOARD_HEAP.rstrip("k")) * 1024))  # more than the whole heap
    status, stderr = s.wait_exit(timeout=10)
    assert status == 1
    assert "MemoryError" in stderr and "sim: firmware exited with status 1" in stderr


def test_a_burn_of_a_slot_that_does_not_exist_stops_the_sim_loudly(sim):
    s, link = sim
    link.send(b"burn 7 100\n")
    status, stderr = s.wait_exit(timeout=10)
    assert status == 1 and "outside its contract" in stderr


def test_a_uart_write_blocks_the_board_for_its_line_time(sim):
    _, link = sim
    nbytes = 1152  # 100 ms at the sim's default 115200 baud, 10 bits a byte
    answer = link.ask("write %d" % nbytes)
    assert answer.startswith("." * nbytes + "wrote ")
    assert int(answer.split()[-1]) >= nbytes * 10 * 1000 // 115200  # a sleep is never shorter


def test_bytes_beyond_the_uart_receive_buffer_are_lost_counted_and_the_stream_resumes(sim):
    s, link = sim
    flood = 2 * RX_HELD  # 178 ms at 115200, while the board reads nothing
    assert link.ask("deaf") == "deaf"
    before = s.do("state")["link"]["to_board"]
    link.send(b"x" * flood)
    wait_for(lambda: s.do("state")["link"]["to_board"] == before + flood, 5, "the flood on the wire")
    s.do("set", input="permit", value=False)  # the board reads again
    assert link.line() == "ok"
    # the board's reads reach the sim a moment after it made them: until then the buffer is full
    wait_for(lambda: s.do("state")["link"]["unread"] == 0, 5, "the board's reads reported")
    link.send(b"\necho after\n")
    assert link.line() == "x" * RX_HELD  # the first bytes were kept, the rest of the flood lost
    assert link.line() == "echo after"
    assert s.do("state")["link"]["overrun"] == flood - RX_HELD
