"""Housekeeping (PUS 3): the one HK structure, periodic and one-shot.

The report is packed straight into the telemetry buffer with the generated
HK_FORMAT; it goes out every HK_PERIOD ms while HK_ENABLED is 1. The period
counts from the previous report, so changing it takes effect at once.

HK_PERIOD 0 is continuous housekeeping, the maximum rate: each loop iteration
fills what its write budget leaves with reports (firmware/telemetry.py), after
the command replies of that iteration, so the line stays busy and a command's
reports never wait behind housekeeping.

heap_free is the free heap right after a garbage collection, the figure the heap
budget is about: read without one it saw-tooths with the garbage of the moment
(from ~33 KB down to ~500 B on an idle sim). A report collects at most once per
_COLLECT_MS and never while an actuator is on (a collection takes milliseconds,
docs/PERFORMANCE.md; a burn's timing keeps priority), so the figure is at most
a second old, or a burn old. A collection allocates nothing.
"""

import gc
import struct

from micropython import const

from firmware import tables as T
from firmware.packet import TM_HEADER

_ARM_BIT = 1 << T.N_SLOTS  # OUTPUT_BITS: actuators, then ARM_ENABLE, then LED
_LED_BIT = 2 << T.N_SLOTS
_HK_LEN = struct.calcsize(T.HK_FORMAT)
_COLLECT_MS = const(1000)  # at most one collection a second for the heap figure


class Housekeeping:
    def __init__(self, board, clock, state, params, seq, switches, schedule, deframer, verification, tm,
                 reset_cause):
        self._board = board  # everything HK reports on
        self._clock = clock
        self._state = state
        self._params = params
        self._seq = seq
        self._switches = switches
        self._schedule = schedule
        self._deframer = deframer
        self._v = verification
        self._tm = tm
        self._reset_cause = reset_cause
        self._last = clock.now
        self._collected = clock.now - _COLLECT_MS  # ticks of the last collection (wrapping)
        self._heap = 0
        self.collect = gc.collect  # tests count collections: one hides allocations from gc.mem_alloc
        self.led = False
        self._temp_ok = True  # SENSOR_INVALID is reported once per bad spell, not per report

    def tick(self):
        p = self._params
        if not p.get(T.P_HK_ENABLED):
            return
        period = p.get(T.P_HK_PERIOD)
        if period == 0:
            while self._tm.fits(_HK_LEN):
                self.send()
        elif self._clock.since(self._last) >= period:
            self.send()

    def send(self):
        b = self._board
        st = self._state
        seq = self._seq
        tm = self._tm
        slots = st.slots
        self._last = self._clock.now
        attempts = 0
        for s in range(T.N_SLOTS):
            attempts |= min(st.attempts[s], 15) << (4 * s)
        d = self._deframer
        inputs = ((T.IN_RBF_REMOVED if b.rbf_removed() else 0) | (T.IN_PERMIT if b.permit() else 0)
                  | (T.IN_ARM_LINE if b.arm_line() else 0))
        temperature = b.temperature()
        bad = temperature == T.TEMP_INVALID
        if bad and self._temp_ok:
            tm.event(T.EV_SENSOR_INVALID)
        self._temp_ok = not bad
        on = b.burning()
        outputs = ((1 << on if on >= 0 else 0) | (_ARM_BIT if seq.arm_on else 0)
                   | (_LED_BIT if self.led else 0))
        struct.pack_into(
            T.HK_FORMAT, tm.buf, TM_HEADER, T.HK_SID, seq.state, slots[0], slots[1], slots[2], slots[3],
            attempts, self._switches.bits(), inputs, outputs,
            seq.arm_left(), self._v.accepted & 0xFFFF, self._v.rejected & 0xFFFF,
            d.crc_errors & 0xFFFF, d.oversize & 0xFFFF, d.undecodable & 0xFFFF,
            self._clock.uptime_s, st.boot_count, self._reset_cause, temperature, self._heap_free(on),
            self._schedule.count(), seq.last_burn, self._v.auth.rejected & 0xFFFF,
        )
        tm.send(T.TM_HK, _HK_LEN)

    def _heap_free(self, burning):
        """Free heap after the latest collection (see the module doc)."""
        c = self._clock
        if burning < 0 and c.since(self._collected) >= _COLLECT_MS:
            self._collected = c.now
            self.collect()
            self._heap = self._board.heap_free()
        return self._heap
