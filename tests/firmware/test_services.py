"""PUS services: verification, duplicates, parameters, time, schedule, housekeeping."""

import struct

from firmware import framing
from firmware.packet import encode_tc
from firmware.state import N_RECENT
from firmware.tables import (
    BAD_ARGUMENT,
    BAD_LENGTH,
    CMD_ARM,
    CMD_FIRE,
    CMD_HK_DISABLE,
    CMD_HK_ONE_SHOT,
    CMD_HK_PERIOD,
    CMD_PARAM_GET,
    CMD_PARAM_SET,
    CMD_PING,
    CMD_SAFE,
    CMD_SCHED_DELETE,
    CMD_SCHED_DISABLE,
    CMD_SCHED_INSERT,
    CMD_SCHED_LIST,
    CMD_SCHED_RESET,
    CMD_TIME_REPORT,
    CMD_TIME_SET,
    DUPLICATE,
    EV_PARAM_CHANGED,
    EV_SCHEDULE_CLEARED,
    EV_SCHEDULE_RELEASED,
    EXECUTING,
    HK_FORMAT,
    NOT_ARMED,
    P_BURN_MAX,
    RELEASED,
    SCHEDULE_FULL,
    SCHEDULE_NOT_FOUND,
    SCHEDULE_SIZE,
    STALE,
    TIME_NOT_CORRELATED,
    TIME_PAST,
    UNKNOWN_COMMAND,
)
from tests.firmware.fakes import Rig, events, failure, subtypes


def test_ping_is_accepted_started_completed_and_answered_by_pong():
    r = Rig("ping")
    rid = r.send(CMD_PING)
    tms = r.run()
    assert subtypes(tms, rid) == [1, 3, 7]
    assert [(t.service, t.subtype) for t in tms].count((17, 2)) == 1


def test_unknown_command_is_refused_at_acceptance():
    r = Rig("unknown")
    rid = r.send_raw(encode_tc(17, 99, b"", seq=5))
    tms = r.run()
    assert failure(tms, rid) == (2, UNKNOWN_COMMAND, 0)


def test_wrong_length_is_refused_bad_length():
    r = Rig("badlen")
    rid = r.send(CMD_PING, extra=b"\x01")
    assert failure(r.run(), rid) == (2, BAD_LENGTH, 0)


def test_argument_out_of_range_is_refused_with_its_number():
    r = Rig("badarg")
    rid = r.send(CMD_FIRE, 5)
    assert failure(r.run(), rid) == (2, BAD_ARGUMENT, 1)


def test_duplicate_request_id_is_not_executed_again_and_reports_the_outcome():
    r = Rig("dup")
    packet = r.tc(CMD_PING)
    rid = r.send_raw(packet)
    tms = r.run()
    r.send_raw(packet)
    tms = r.run()
    assert [(t.service, t.subtype) for t in tms].count((17, 2)) == 0
    assert failure(tms, rid) == (2, DUPLICATE, 0)


def pongs(tms):
    return [(t.service, t.subtype) for t in tms].count((17, 2))


def test_a_command_older_than_the_remembered_window_is_refused_stale_and_not_run():
    r = Rig("stale")
    first = r.tc(CMD_PING)
    rid = r.send_raw(first)
    for _ in range(N_RECENT):  # as many newer commands as the payload remembers
        r.send(CMD_PING)
        r.run()
    r.send_raw(first)
    tms = r.run()
    assert pongs(tms) == 0
    assert failure(tms, rid) == (2, STALE, r.seq)  # data: the newest count, to go on from


def test_a_command_lost_on_the_way_up_runs_when_retried_after_newer_ones_but_only_once():
    r = Rig("lost")
    lost = r.tc(CMD_PING)  # never reaches the payload
    r.send(CMD_PING)
    r.send(CMD_PING)
    r.run()
    rid = r.send_raw(lost)
    assert pongs(r.run()) == 1
    r.send_raw(lost)
    tms = r.run()
    assert pongs(tms) == 0 and failure(tms, rid) == (2, DUPLICATE, 0)


def test_the_sequence_window_survives_a_reset():
    r = Rig("stale_reset")
    first = r.tc(CMD_PING)
    r.send_raw(first)
    for _ in range(N_RECENT):
        r.send(CMD_PING)
    r.run()
    r.reset()
    r.send_raw(first)
    tms = r.run()
    assert pongs(tms) == 0 and failure(tms, struct.unpack(">I", first[:4])[0])[1] == STALE


def test_duplicate_of_a_refused_command_reports_its_failure_code():
    r = Rig("dup_refused")
    r.run(100)
    packet = r.tc(CMD_FIRE, 1)
    rid = r.send_raw(packet)
    r.run()
    r.send(CMD_ARM)
    r.run()
    r.send_raw(packet)
    tms = r.run()
    assert failure(tms, rid) == (2, DUPLICATE, NOT_ARMED)
    assert r.board.burns == []


def test_duplicate_of_a_running_fire_reports_executing_and_burns_once():
    r = Rig("dup_running")
    r.run(100)
    r.send(CMD_ARM)
    packet = r.tc(CMD_FIRE, 1)
    rid = r.send_raw(packet)
    r.run(100)
    r.send_raw(packet)
    tms = r.run(100)
    assert failure(tms, rid) == (2, DUPLICATE, EXECUTING)
    r.board.switches[0] = True
    r.run(5000)
    assert len(r.board.burns) == 1


def test_request_ids_are_remembered_for_the_last_n_recent_commands():
    r = Rig("dup_window")
    first = r.tc(CMD_PING)
    r.send_raw(first)
    for _ in range(N_RECENT - 1):
        r.send(CMD_PING)
    r.run()
    r.send_raw(first)
    assert failure(r.run(), struct.unpack(">I", first[:4])[0])[1] == DUPLICATE


def test_param_set_is_range_checked_and_persisted_across_reset():
    r = Rig("params")
    rid = r.send(CMD_PARAM_SET, P_BURN_MAX, 99)
    assert failure(r.run(), rid) == (4, BAD_ARGUMENT, 0)
    rid = r.send(CMD_PARAM_SET, 99, 1)
    assert failure(r.run(), rid) == (2, BAD_ARGUMENT, 1)
    rid = r.send(CMD_PARAM_SET, P_BURN_MAX, 1500)
    tms = r.run()
    assert subtypes(tms, rid) == [1, 3, 7]
    assert events(tms, EV_PARAM_CHANGED) == [(EV_PARAM_CHANGED, (P_BURN_MAX, 1500))]
    r.reset()
    r.send(CMD_PARAM_GET, P_BURN_MAX)
    tms = r.run()
    param = [t for t in tms if (t.service, t.subtype) == (20, 2)]
    assert struct.unpack(">HI", param[0].data) == (P_BURN_MAX, 1500)


def test_time_set_then_report_gives_correlated_time_advancing_with_ticks():
    r = Rig("time")
    r.send(CMD_TIME_SET, 24000, 86399000)
    r.run()
    r.run(2000)
    r.send(CMD_TIME_REPORT)
    tms = r.run()
    t = [t for t in tms if (t.service, t.subtype) == (9, 130)][0]
    days, ms, corr = struct.unpack(">HIB", t.data)
    assert (days, corr) == (24001, 1) and 1000 <= ms <= 1100
    assert (t.days, t.ms) == (days, ms)  # packet time stamps use the same clock


def test_time_wraps_to_day_zero_after_the_last_cds_day_and_telemetry_goes_on():
    r = Rig("time_wrap")
    r.send(CMD_TIME_SET, 65535, 86399990)
    r.run(100)
    r.send(CMD_TIME_REPORT)
    t = [t for t in r.run() if (t.service, t.subtype) == (9, 130)][0]
    assert struct.unpack(">HIB", t.data)[0] == 0 and t.days == 0


def test_time_before_correlation_is_uptime():
    r = Rig("uptime")
    r.run(3000)
    r.send(CMD_TIME_REPORT)
    t = [t for t in r.run() if (t.service, t.subtype) == (9, 130)][0]
    days, ms, corr = struct.unpack(">HIB", t.data)
    assert (days, corr) == (0, 0) and 3000 <= ms <= 3100


def scheduled(r, days, ms, inner):
    return r.send(CMD_SCHED_INSERT, days, ms, extra=inner)


def test_schedule_refuses_a_release_time_before_time_is_correlated():
    r = Rig("sched_uncorrelated")
    rid = scheduled(r, 100, 5000, r.tc(CMD_PING))
    assert failure(r.run(), rid)[1] == TIME_NOT_CORRELATED
    assert r.app.schedule.count() == 0


def test_scheduled_command_is_released_at_its_time_and_reports_to_ground():
    r = Rig("sched")
    r.send(CMD_TIME_SET, 100, 0)
    inner = r.tc(CMD_PING)
    inner_rid = struct.unpack(">I", inner[:4])[0]
    rid = scheduled(r, 100, 5000, inner)
    tms = r.run(4000)
    assert subtypes(tms, rid) == [1, 3, 7] and subtypes(tms, inner_rid) == []
    tms = r.run(2000)
    assert events(tms, EV_SCHEDULE_RELEASED) == [(EV_SCHEDULE_RELEASED, (inner_rid,))]
    assert subtypes(tms, inner_rid) == [1, 3, 7]
    assert r.app.schedule.count() == 0


def test_scheduled_fire_still_needs_arm():
    r = Rig("sched_fire")
    r.send(CMD_TIME_SET, 100, 0)
    inner = r.tc(CMD_FIRE, 1)
    scheduled(r, 100, 1000, inner)
    tms = r.run(2000)
    assert failure(tms, struct.unpack(">I", inner[:4])[0])[1] == NOT_ARMED
    assert r.board.burns == []


def test_scheduled_arm_then_fire_releases_outside_contact():
    r = Rig("sched_arm_fire")
    r.send(CMD_TIME_SET, 100, 0)
    r.board.release_after[0] = 200
    scheduled(r, 100, 1000, r.tc(CMD_ARM))
    scheduled(r, 100, 2000, r.tc(CMD_FIRE, 1))
    r.run(4000)
    assert r.app.state.slots[0] == RELEASED


def test_schedule_insert_refuses_past_time_and_a_full_table():
    r = Rig("sched_refuse")
    r.send(CMD_TIME_SET, 100, 5000)
    rid = scheduled(r, 100, 4000, r.tc(CMD_PING))
    assert failure(r.run(), rid)[1] == TIME_PAST
    for i in range(SCHEDULE_SIZE):
        scheduled(r, 101, i, r.tc(CMD_PING))
    rid = scheduled(r, 101, 99, r.tc(CMD_PING))
    assert failure(r.run(100), rid)[1] == SCHEDULE_FULL


def test_schedule_insert_refuses_a_corrupt_inner_command():
    r = Rig("sched_corrupt")
    inner = bytearray(r.tc(CMD_PING))
    inner[-1] ^= 1
    rid = scheduled(r, 100, 0, bytes(inner))
    assert failure(r.run(), rid) == (4, BAD_ARGUMENT, 3)


def test_schedule_list_delete_and_reset():
    r = Rig("sched_list")
    r.send(CMD_TIME_SET, 0, 0)
    a = r.tc(CMD_PING)
    b = r.tc(CMD_PING)
    scheduled(r, 200, 1, a)
    scheduled(r, 200, 2, b)
    r.send(CMD_SCHED_LIST)
    rep = [t for t in r.run() if (t.service, t.subtype) == (11, 10)][0]
    assert rep.data[0] == 1 and len(rep.data) == 1 + 2 * 10
    assert struct.unpack(">IHI", rep.data[1:11]) == (struct.unpack(">I", a[:4])[0], 200, 1)
    rid = r.send(CMD_SCHED_DELETE, struct.unpack(">I", a[:4])[0])
    assert subtypes(r.run(), rid)[-1] == 7 and r.app.schedule.count() == 1
    rid = r.send(CMD_SCHED_DELETE, 12345)
    assert failure(r.run(), rid)[1] == SCHEDULE_NOT_FOUND
    r.send(CMD_SCHED_RESET)
    tms = r.run()
    assert events(tms, EV_SCHEDULE_CLEARED) == [(EV_SCHEDULE_CLEARED, (1,))]


def test_schedule_and_its_enable_flag_persist_across_reset():
    r = Rig("sched_persist")
    r.send(CMD_TIME_SET, 0, 0)
    scheduled(r, 200, 1, r.tc(CMD_PING))
    r.send(CMD_SCHED_DISABLE)
    r.run()
    r.reset()
    assert r.app.schedule.count() == 1 and not r.app.schedule.enabled


def test_nothing_scheduled_is_released_before_time_is_correlated_again_after_reset():
    r = Rig("sched_uncorr")
    r.send(CMD_TIME_SET, 0, 0)
    scheduled(r, 0, 3000, r.tc(CMD_PING))
    r.run()
    r.reset()
    tms = r.run(5000)
    assert events(tms, EV_SCHEDULE_RELEASED) == []


def test_safe_disables_and_clears_the_schedule():
    r = Rig("sched_safe")
    r.send(CMD_TIME_SET, 0, 0)
    scheduled(r, 200, 1, r.tc(CMD_PING))
    r.send(CMD_SAFE)
    tms = r.run()
    assert events(tms, EV_SCHEDULE_CLEARED) == [(EV_SCHEDULE_CLEARED, (1,))]
    assert r.app.schedule.count() == 0 and not r.app.schedule.enabled


def hk_reports(tms):
    return [struct.unpack(HK_FORMAT, t.data) for t in tms if (t.service, t.subtype) == (3, 25)]


def test_hk_is_periodic_at_the_period_and_carries_the_state():
    r = Rig("hk")
    r.board.cause = 2
    r.reset(2)
    tms = r.run(3050)
    hk = hk_reports(tms)
    assert len(hk) == 3
    sid, state, s1, s2, s3, s4, attempts, sw, inputs, outputs = hk[-1][:10]
    assert sid == 1 and state == 0 and (s1, s2, s3, s4) == (0, 0, 0, 0)
    assert inputs == 3 and outputs & 0x1F == 0
    boot_count, reset_cause, temp = hk[-1][17:20]
    assert boot_count == 2 and reset_cause == 2 and temp == 250
    assert 2 <= hk[-1][16] <= 3  # uptime s


def test_hk_period_disable_and_one_shot():
    r = Rig("hk_cmds")
    r.send(CMD_HK_PERIOD, 1, 500)
    assert len(hk_reports(r.run(2010))) == 4
    r.send(CMD_HK_DISABLE, 1)
    r.run()
    assert hk_reports(r.run(3000)) == []
    r.send(CMD_HK_ONE_SHOT, 1)
    assert len(hk_reports(r.run())) == 1


def test_continuous_hk_keeps_the_line_full_without_queueing_more_than_its_lead():
    r = Rig("hk_continuous")
    r.send(CMD_HK_PERIOD, 1, 0)
    r.run(100)
    r.board.uart.capture = False
    start = r.board.uart.written
    r.run(2000)
    line = 2 * r.board.uart.baud // 10  # bytes the line carries in 2 s at 8N1
    written = r.board.uart.written - start
    assert line * 95 // 100 <= written <= line + line // 40  # >= 95% busy, never 50 ms ahead


def test_hk_counts_rejected_commands_and_link_errors():
    r = Rig("hk_counts")
    r.send(CMD_FIRE, 9)
    r.board.uart.rx.extend(framing.frame(bytes(range(1, 12))))  # COBS fine, CRC wrong
    r.send(CMD_HK_ONE_SHOT, 1)
    hk = hk_reports(r.run())[-1]
    accepted, rejected, crc = hk[11:14]
    assert (accepted, rejected, crc) == (1, 1, 1)


def test_schedule_refuses_a_command_too_long_to_keep():
    r = Rig("sched_long")
    r.send(CMD_TIME_SET, 0, 0)
    inner = encode_tc(17, 1, bytes(40), seq=99)  # 53 bytes: longer than any real release command
    rid = scheduled(r, 100, 0, inner)
    assert failure(r.run(), rid) == (4, BAD_LENGTH, 0)
