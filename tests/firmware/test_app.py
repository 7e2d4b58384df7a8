"""The main loop: watchdog, LED, and no heap allocation per iteration in steady state."""

import gc
import sys

from firmware.app import TICK_MS
from firmware.tables import (
    ARMED,
    CMD_ABORT,
    CMD_ARM,
    CMD_FIRE,
    CMD_HK_PERIOD,
    CMD_PING,
    CMD_SCHED_INSERT,
    CMD_SCHED_LIST,
    CMD_TIME_SET,
    P_BURN_MAX,
    P_DEBOUNCE,
    RELEASED,
    TM_PONG,
)
from tests.firmware.fakes import Rig, no_collection

ITERATIONS = 300


MP = sys.implementation.name == "micropython"


class Calls:
    """Records the order of calls (collect, heap_free); swapped in for gc.collect, which would
    otherwise free garbage mid-measurement and hide allocations from gc.mem_alloc."""

    def __init__(self, board):
        self.log = []
        self._heap_free = board.heap_free

    def collect(self):
        self.log.append("collect")

    def heap_free(self):
        self.log.append("heap_free")
        return self._heap_free()


def allocated_per_iteration(r):
    """Bytes allocated by ITERATIONS loop iterations (MicroPython's gc.mem_alloc; 0 elsewhere)."""
    r.board.uart.capture = False  # the fake UART must not allocate either
    r.app.hk.collect = no_collection
    gc.collect()
    gc.disable()
    try:
        a0 = gc.mem_alloc() if MP else 0
        for _ in range(ITERATIONS):
            r.app.step()
            r.board.idle(TICK_MS)
        return gc.mem_alloc() - a0 if MP else 0
    finally:
        gc.enable()


def steady_rig(name):
    r = Rig(name)
    r.send(CMD_HK_PERIOD, 1, 100)  # HK ten times a second: reports are part of steady state
    r.send(CMD_TIME_SET, 100, 0)
    r.send(CMD_SCHED_INSERT, 200, 0, extra=r.tc(CMD_ARM))  # the schedule is scanned every loop
    r.run(500)
    return r


def test_every_iteration_feeds_the_watchdog():
    r = Rig("feed")
    r.run(1000)
    assert r.board.fed >= 1000 // TICK_MS


def test_led_blinks_when_safe_and_stays_on_when_armed():
    r = Rig("led")
    seen = set()
    for _ in range(4):
        r.run(500)
        seen.add(r.board.led)
    assert seen == {True, False}
    r.send(CMD_ARM)
    for _ in range(4):
        r.run(500)
        assert r.board.led


def test_steady_state_loop_allocates_nothing_when_safe():
    r = steady_rig("alloc_safe")
    n = allocated_per_iteration(r)
    assert r.board.uart.written > 0  # HK went out meanwhile
    if MP:
        assert n == 0, "%d bytes in %d iterations" % (n, ITERATIONS)


def test_steady_state_loop_allocates_nothing_when_armed():
    r = steady_rig("alloc_armed")
    r.send(CMD_ARM)
    r.run()
    n = allocated_per_iteration(r)
    assert r.app.seq.state == ARMED
    if MP:
        assert n == 0, "%d bytes in %d iterations" % (n, ITERATIONS)


def test_heap_free_is_read_right_after_a_collection_at_most_once_a_second():
    r = Rig("heap")
    r.send(CMD_HK_PERIOD, 1, 100)
    calls = Calls(r.board)
    r.app.hk.collect, r.board.heap_free = calls.collect, calls.heap_free
    reports = len([t for t in r.run(3000) if t.service == 3])
    assert reports >= 3000 // (100 + TICK_MS)  # a report at the first iteration 100 ms after the last
    assert calls.log == ["collect", "heap_free"] * 3  # every reading follows a collection; one a second


def test_no_collection_while_an_actuator_is_on():
    r = Rig("heap_burn")
    r.send(CMD_HK_PERIOD, 1, 100)
    r.board.release_after[0] = 2500
    r.run(100)  # switches debounced: slots STOWED
    r.send(CMD_ARM)
    r.run()
    r.send(CMD_FIRE, 1)
    r.run(100)
    assert r.board.on == 0
    calls = Calls(r.board)
    r.app.hk.collect, r.board.heap_free = calls.collect, calls.heap_free
    r.run(2000)
    assert r.board.on == 0 and calls.log == []  # burning for 2 s: the heap figure waits
    r.run(2000)
    assert r.board.on == -1 and calls.log[:2] == ["collect", "heap_free"]


# --- the write budget: the board's UART blocks for a frame's line time (the fake's clock moves) ----
FLOOD_BYTES = 512  # PINGs kept waiting on the link: more than one iteration reads
BURN_BUDGET_MS = 8  # firmware/telemetry.py _BURN_BUDGET_US
BUDGET_MS = 25  # firmware/telemetry.py _BUDGET_US
MARGIN_MS = 20  # firmware/sequencer.py _MARGIN


class Samples:
    """Board times at which the firmware read slot 0's switch (once per loop iteration)."""

    def __init__(self, board):
        self.t = []
        self._board = board
        self._switch = board.switch
        board.switch = self.switch

    def switch(self, slot):
        if slot == 0:
            self.t.append(self._board.t)
        return self._switch(slot)

    def longest_gap(self, since):
        t = [x for x in self.t if x >= since]
        return max(t[i + 1] - t[i] for i in range(len(t) - 1))


def flooded(r, ms, until=None):
    """Loop iterations for ``ms`` of board time (or until ``until()``), with continuous HK
    and the link kept full of PINGs; returns the PINGs sent."""
    end = r.board.t + ms
    sent = 0
    while r.board.t < end and not (until and until()):
        while len(r.board.uart.rx) < FLOOD_BYTES:
            r.send(CMD_PING)
            sent += 1
        r.board.idle(r.app.step())
    return sent


def firing_rig(name, release_after=None):
    r = Rig(name)
    r.send(CMD_HK_PERIOD, 1, 0)  # continuous: HK fills every budget
    r.board.release_after[0] = release_after
    r.run(200)
    r.send(CMD_ARM)
    r.run()
    r.send(CMD_FIRE, 1)
    r.run()
    assert r.board.on == 0
    r.board.uart.capture = False
    return r


def test_a_burn_is_cut_by_the_loop_before_the_hardware_cutoff_under_continuous_hk_and_a_ping_flood():
    r = firing_rig("budget_cut")
    samples = Samples(r.board)
    start = r.board.start
    flooded(r, 10000, until=lambda: r.board.on < 0)
    burn_max = r.app.params.get(P_BURN_MAX)
    (_slot, _start, end), = r.board.burns
    assert end - start <= burn_max - MARGIN_MS + TICK_MS  # the loop's cut, not the hardware's at burn_max
    assert samples.longest_gap(start) <= TICK_MS + 1  # the burn's budget fits a tick (+ a ms of ticks_ms)


def test_a_release_is_seen_within_the_debounce_and_a_tick_under_continuous_hk_and_a_ping_flood():
    release_ms = 500
    r = firing_rig("budget_release", release_after=release_ms)
    flooded(r, 2000, until=lambda: r.board.on < 0)
    (_slot, start, end), = r.board.burns
    assert end - start <= release_ms + r.app.params.get(P_DEBOUNCE) + 2 * TICK_MS
    assert r.app.state.slots[0] == RELEASED


def test_the_loop_samples_the_switches_within_its_write_budget_under_continuous_hk_and_a_ping_flood():
    r = Rig("budget_idle")
    r.send(CMD_HK_PERIOD, 1, 0)
    r.run(200)
    r.board.uart.capture = False
    samples = Samples(r.board)
    t0 = r.board.t
    flooded(r, 2000)
    assert samples.longest_gap(t0) <= BUDGET_MS + 1
    assert r.board.uart.written > 2000 * 115200 // 10 // 1000 * 9 // 10  # and the line is 90 % busy


def test_every_ping_of_a_flood_is_answered_once_the_flood_stops():
    r = Rig("budget_answers")
    r.run(200)
    sent = flooded(r, 300)
    answered = 0
    for _ in range(10):  # in parts: the unix port's test heap holds a few seconds of telemetry
        r.tms = []
        answered += [t.service << 8 | t.subtype for t in r.run(300)].count(TM_PONG)
    assert answered == sent


def test_a_report_longer_than_the_burn_budget_does_not_hold_back_an_abort():
    r = Rig("budget_long")
    r.send(CMD_TIME_SET, 100, 0)
    for i in range(8):  # the schedule's list report: 8 entries, 180 bytes, 16 ms at 115200
        r.send(CMD_SCHED_INSERT, 100, 60000 + i, extra=r.tc(CMD_PING))
    r.run(200)
    r.send(CMD_ARM)
    r.send(CMD_FIRE, 1)  # slot 1 never releases
    r.run(100)
    assert r.board.on == 0
    r.send(CMD_SCHED_LIST)
    r.board.idle(r.app.step())  # its report waits: longer than the burn's budget
    r.send(CMD_ABORT)
    start = r.board.t
    while r.board.on >= 0 and r.board.t < start + 1000:
        r.board.idle(r.app.step())
    assert r.board.t - start <= 4 * TICK_MS + BUDGET_MS  # not BURN_MAX: the report went, alone, then ABORT
