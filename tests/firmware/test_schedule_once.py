"""Exactly once through the schedule (issue 11, part 2): a telecommand nested in SCHED_INSERT is
checked against the recorded request ids and the sequence window when it is inserted, reserved
there (firmware/verification.py), and runs once at its time, never again, whatever comes between."""

import struct

from firmware.state import N_RECENT
from firmware.tables import (
    CMD_ABORT,
    CMD_ARM,
    CMD_FIRE,
    CMD_PING,
    CMD_SCHED_INSERT,
    CMD_TIME_SET,
    DUPLICATE,
    SCHEDULE_FULL,
    SCHEDULE_SIZE,
    STALE,
)
from tests.firmware.fakes import Rig, failure, subtypes

DAY = 100  # the CDS day every test correlates to


def ready(name):
    """A Rig whose switches have settled since boot and whose time is correlated."""
    r = Rig(name)
    r.run(200)
    r.send(CMD_TIME_SET, DAY, 0)
    r.run()
    return r


def rid_of(packet):
    return struct.unpack(">I", packet[:4])[0]


def schedule(r, inner, after_ms):
    """SCHED_INSERT of ``inner`` (bytes) for release ``after_ms`` from now; its request id."""
    return r.send(CMD_SCHED_INSERT, DAY, r.app.clock.ms + after_ms, extra=inner)


def pings(r, n):
    for _ in range(n):
        r.send(CMD_PING, ack=0)
        r.run()


def test_a_fire_that_ran_and_left_the_window_is_refused_stale_when_nested_and_never_burns_again():
    # The scenario: ARM, FIRE 3 (packet P), ABORT during the burn, 20 PINGs; P again: STALE.
    # Then ARM and a SCHED_INSERT whose nested command is P byte for byte: slot 3 burned again.
    r = ready("once_replay")
    r.send(CMD_ARM)
    r.run()
    p = r.tc(CMD_FIRE, 3)
    r.send_raw(p)
    r.run(100)
    assert r.board.on == 2
    r.send(CMD_ABORT)
    r.run()
    pings(r, 20)
    r.send_raw(p)
    assert failure(r.run(), rid_of(p)) == (2, STALE, r.seq)
    r.send(CMD_ARM)
    r.run(200)
    rid = schedule(r, p, 1000)
    tms = r.run(3000)
    assert failure(tms, rid) == (4, STALE, r.seq)  # START_FAILED; data: the newest count accepted
    assert subtypes(tms, rid_of(p)) == [] and r.app.schedule.count() == 0
    assert len(r.board.burns) == 1 and r.board.on == -1


def test_a_command_whose_outcome_is_remembered_is_refused_duplicate_with_that_outcome_when_nested():
    r = ready("once_duplicate")
    p = r.tc(CMD_PING)
    r.send_raw(p)
    r.run()
    rid = schedule(r, p, 1000)
    assert failure(r.run(), rid) == (4, DUPLICATE, 0)
    assert r.app.schedule.count() == 0


def test_a_scheduled_command_runs_once_at_its_time_and_no_copy_runs_before_or_after_it():
    r = ready("once_reserved")
    p = r.tc(CMD_PING)
    schedule(r, p, 5000)
    r.run()
    r.send_raw(p)  # a copy on the link
    assert failure(r.run(), rid_of(p)) == (2, STALE, r.seq)
    again = schedule(r, p, 6000)  # a copy in another SCHED_INSERT
    assert failure(r.run(), again) == (4, STALE, r.seq)
    pings(r, 2 * N_RECENT)  # more commands than the payload remembers, between insert and release
    tms = r.run(5000)
    assert subtypes(tms, rid_of(p)) == [1, 3, 7] and r.app.schedule.count() == 0
    r.send_raw(p)
    assert failure(r.run(), rid_of(p)) == (2, DUPLICATE, 0)
    pings(r, N_RECENT)
    r.send_raw(p)
    assert failure(r.run(), rid_of(p)) == (2, STALE, r.seq)


def test_the_reservation_of_a_scheduled_fire_survives_a_power_loss_without_vbat_and_a_reset():
    r = ready("once_power")
    p = r.tc(CMD_FIRE, 1)
    schedule(r, p, 60000)
    r.run()
    for restart in (lambda: r.power_loss(vbat=False), lambda: r.reset(2)):
        restart()
        r.run(200)
        r.send(CMD_ARM)
        r.run()
        r.send_raw(p)
        assert failure(r.run(100), rid_of(p)) == (2, STALE, r.seq)
        assert r.board.burns == [] and r.board.on == -1
    r.board.release_after[0] = 200
    r.send(CMD_TIME_SET, DAY, 59000)  # time is uptime again after the reset: correlate, then it falls due
    r.send(CMD_ARM)
    tms = r.run(3000)
    assert subtypes(tms, rid_of(p))[:2] == [1, 3] and len(r.board.burns) == 1


def test_an_insert_refused_for_want_of_room_reserves_nothing():
    r = ready("once_full")
    for i in range(SCHEDULE_SIZE):
        schedule(r, r.tc(CMD_PING), 60000 + i)
    r.run()
    p = r.tc(CMD_PING)
    rid = schedule(r, p, 1000)
    assert failure(r.run(), rid) == (4, SCHEDULE_FULL, 0)
    r.send_raw(p)  # never kept by the schedule: it may still run from the link, once
    assert subtypes(r.run(), rid_of(p)) == [1, 3, 7]
