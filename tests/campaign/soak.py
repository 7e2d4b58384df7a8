"""Soak: the sim at the fastest housekeeping period the firmware allows, with commanding.

Housekeeping runs at the lower limit of the HK_PERIOD parameter while the ground sends a
PING every COMMAND_S. Counted on the ground as telemetry arrives (the Client keeps only the
latest records): TM frames received, and lost by the 14-bit sequence count; TCs sent and
completed; per window, the least free heap reported in HK (the board's gc.mem_free(), garbage
not yet collected included: the low-water mark the collector lets it reach) and the mean HK
period measured on the on-board time stamps (drift = how far it moves from the first window).
"""

import time
from dataclasses import dataclass, field

from firmware import dictionary as d
from ground.client import COMPLETED
from tests.campaign.rig import Board, param_id

HK_PERIOD_MS = d.parameter(d.P_HK_PERIOD).lo  # its lower limit: the fastest
COMMAND_S = 0.5
_DAY_MS = 86400000


@dataclass
class Window:
    start_s: float
    hk: int = 0
    heap_low: int = 1 << 31
    intervals: list = field(default_factory=list)


class Meter:
    """on_record hook: windows of HK figures, without keeping the records."""

    def __init__(self, window_s):
        self.window_s = window_s
        self.t0 = time.monotonic()
        self.windows = [Window(0.0)]
        self._last = None  # on-board ms of the previous HK

    def __call__(self, rec):
        if rec.name != "HK" or rec.error:
            return
        now = time.monotonic() - self.t0
        if now >= self.windows[-1].start_s + self.window_s:
            self.windows.append(Window(now))
        w = self.windows[-1]
        w.hk += 1
        w.heap_low = min(w.heap_low, rec.values["heap_free"])
        t = rec.days * _DAY_MS + rec.ms
        if self._last is not None:  # a lost HK shows as a doubled interval (the max)
            w.intervals.append(t - self._last)
        self._last = t


def soak(minutes, seed=11, log=print):
    """Run for ``minutes``; returns the report lines (and logs each window as it closes)."""
    meter = Meter(max(10.0, minutes * 6.0))  # about ten windows
    sent = completed = 0
    with Board(seed) as board, board.client(on_record=meter) as c:
        c.send("PARAM_SET", param_id("HK_PERIOD"), HK_PERIOD_MS)
        end = time.monotonic() + minutes * 60
        shown = 1
        while time.monotonic() < end:
            v = c.send("PING", check=False)
            sent += 1
            completed += v.status == COMPLETED
            time.sleep(COMMAND_S)
            if len(meter.windows) > shown:
                log(_window(meter.windows[shown - 1], meter.windows[0]))
                shown += 1
        link = c.link
        received, lost, crc = link.rx_packets, link.tm_lost, link.deframer.crc_errors
        alive = board.alive()
        flash = board.do("state")["flash"]
    rate = "continuous HK" if HK_PERIOD_MS == 0 else "HK period %d ms" % HK_PERIOD_MS
    lines = ["  %g min at %s with a PING every %.1f s: TM frames sent %d (by sequence count), "
             "received %d, lost %d; ground CRC errors %d; TCs sent %d, completed %d; firmware %s"
             % (minutes, rate, COMMAND_S, received + lost, received, lost, crc, sent, completed,
                "running" if alive else "DIED")]
    lines += ["  flash erases per sector (1-4) over the soak, boot included: %s; firmware frozen %d ms in all"
              % (flash["erases"], flash["stalls"]["total_ms"])]
    lines += [_window(w, meter.windows[0]) for w in meter.windows if w.intervals]
    return lines, lost + (sent - completed) + (not alive)


def _mean(xs):
    return sum(xs) / len(xs) if xs else float("nan")


def _window(w, first):
    p = _mean(w.intervals)
    return "    t=%6.0f s: %4d HK, least free heap %6d B, HK period mean %.2f ms (drift %+.2f ms), max %d ms" % (
        w.start_s, w.hk, w.heap_low, p, p - _mean(first.intervals), max(w.intervals or [0]))
