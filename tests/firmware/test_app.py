"""The main loop: watchdog, LED, and no heap allocation per iteration in steady state."""

import gc
import sys

from firmware.app import TICK_MS
from firmware.tables import ARMED, CMD_ARM, CMD_FIRE, CMD_HK_PERIOD, CMD_SCHED_INSERT, CMD_TIME_SET
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
    assert reports >= 29
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
