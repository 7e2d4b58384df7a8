"""The main loop: watchdog, LED, and no heap allocation per iteration in steady state."""

import gc
import sys

from firmware.app import TICK_MS
from firmware.tables import ARMED, CMD_ARM, CMD_HK_PERIOD, CMD_SCHED_INSERT, CMD_TIME_SET
from tests.firmware.fakes import Rig

ITERATIONS = 300


MP = sys.implementation.name == "micropython"


def allocated_per_iteration(r):
    """Bytes allocated by ITERATIONS loop iterations (MicroPython's gc.mem_alloc; 0 elsewhere)."""
    r.board.uart.capture = False  # the fake UART must not allocate either
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
