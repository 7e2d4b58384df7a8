"""Telemetry out: packets built in one buffer, framed, written to the link.

Everything here runs in steady state (housekeeping, events), so it allocates
nothing: event sizes are worked out once, at start. The PUS 1 layouts, which
firmware.tables does not carry, are checked against the dictionary by
tests/test_firmware_layouts.py.

The board's ``uart.write`` blocks for the frame's wire time (no TX buffer: the
stm32 port's uart_tx_data waits for each character to leave; 88 bytes take
7.6 ms at 115200), so the loop bounds the line time it spends writing in one
iteration: ``begin`` opens a budget of _BUDGET_US (_BURN_BUDGET_US while an
actuator is on, so the loop still cuts a burn _MARGIN ms before the hardware
does and samples the switches every TICK_MS or so). A frame is written if its
line time fits what is left, or if nothing was written yet in this iteration (so a
frame longer than the budget still goes, alone: a SCHED_LIST report during a burn,
anything at a low baud); else it waits in a
FIFO of _QUEUE bytes that ``begin`` drains first, in order. The loop reads the
link only while that FIFO is empty (``queued`` 0), firmware.app._RX bytes at a
time, so a flood waits in the UART's receive buffer (where the board drops what
overflows) instead of in RAM here. Between ``done`` and ``begin`` (the read, the
switches and the sequencer: no write delays them) every report waits in the
FIFO; the replies to one read of PINGs and the sequencer's events fit it. A
frame that finds the FIFO full anyway (a read of several HK_ONE_SHOTs or
SCHED_LISTs) is written at once after those waiting: late, past the budget,
rather than lost.

::

    line time of a frame   (len(frame) * 10 bits) / baud, kept in 1/16 us
    one iteration          read (FIFO empty), switches, sequencer | begin: drain FIFO | reports | done | idle
"""

import struct

from micropython import const

from firmware.framing import MAX_FRAME, encode_into
from firmware.packet import ACK_ACCEPT, ACK_COMPLETE, ACK_PROGRESS, ACK_START, TM_HEADER, TmWriter
from firmware.tables import EVENT_FORMATS, EVENT_SEVERITY, TM_ACCEPTED, TM_EVENT_INFO

# Verification stages: subtype - 1 of the success report (the failure report is the next one).
ACCEPT = const(0)
START = const(2)
PROGRESS = const(4)
COMPLETE = const(6)
_ACK = (ACK_ACCEPT, 0, ACK_START, 0, ACK_PROGRESS, 0, ACK_COMPLETE)  # TC ack flag per stage
_BUDGET_US = const(25000)  # line time written per iteration: 3 HK reports at 115200
_BURN_BUDGET_US = const(8000)  # while a burn runs: one HK report at 115200; the loop tick stays TICK_MS
_FULL_X16 = const(_BUDGET_US * 16)
_QUEUE = const(512)  # the 4 reports of each of 3 PINGs (one read, firmware.app._RX: 324 bytes) and events


class Telemetry:
    def __init__(self, board, clock):
        self.w = TmWriter()
        self.buf = self.w.buf
        self._frame = bytearray(MAX_FRAME)
        self._fv = memoryview(self._frame)
        self._uart = board.uart
        self._clock = clock
        self._elen = bytes(struct.calcsize(f) for f in EVENT_FORMATS)
        self._us_per_byte_x16 = 160_000_000 // board.uart.baud  # 10 bits, in 1/16 us
        self._budget_x16 = self._left_x16 = _FULL_X16  # line time this iteration may write, and what is left
        self._q = bytearray(_QUEUE)
        self._qv = memoryview(self._q)
        self._qh = self.queued = 0  # the FIFO is _q[_qh:queued], whole frames; queued 0: none waits

    def begin(self, burning):
        """A loop iteration starts: a new budget, spent first on the frames that wait."""
        self._budget_x16 = self._left_x16 = _BURN_BUDGET_US * 16 if burning else _FULL_X16
        if self.queued:
            self._drain(False)

    def _drain(self, all_of_it):
        """Write the waiting frames in order, those that fit the budget or ``all_of_it``."""
        q = self._q
        while self._qh < self.queued:
            end = q.find(b"\x00", self._qh) + 1
            if not (all_of_it or self._fits(end - self._qh)):
                return
            self._write(self._qv[self._qh:end], end - self._qh)
            self._qh = end
        self._qh = self.queued = 0

    def fits(self, n):
        """True if a packet of ``n`` data bytes would be written now (continuous HK)."""
        return self.queued == 0 and self._fits(TM_HEADER + n + 4)  # CRC, COBS code byte, delimiter

    def done(self, tick_ms):
        """The iteration's writes are over (what is sent until the next ``begin`` waits); returns
        what is left of a loop tick of ``tick_ms`` after them."""
        spent_ms = (self._budget_x16 - self._left_x16 + 15999) // 16000  # rounded up: never past the tick
        self._budget_x16 = self._left_x16 = 0
        return tick_ms - spent_ms if spent_ms < tick_ms else 0

    def send(self, tm, n):
        """Send packet ``tm`` (service << 8 | subtype) whose ``n`` data bytes are in ``buf``."""
        c = self._clock
        m = self.w.finish(tm >> 8, tm & 0xFF, n, c.days, c.ms)
        k = encode_into(self.buf, m, self._frame)
        if self.queued == 0 and self._fits(k):
            self._write(self._frame, k)
            return
        if self.queued + k > _QUEUE:
            self._compact()
        if self.queued + k > _QUEUE:  # late rather than lost: everything goes now, in order
            self._drain(True)
            self._write(self._frame, k)
            return
        self._q[self.queued:self.queued + k] = self._fv[:k]
        self.queued += k

    def _fits(self, k):
        """A k-byte frame fits the budget left, or nothing was written yet this iteration."""
        return k * self._us_per_byte_x16 <= self._left_x16 or self._left_x16 == self._budget_x16 > 0

    def _write(self, buf, k):
        cost = k * self._us_per_byte_x16
        self._left_x16 = self._left_x16 - cost if cost < self._left_x16 else 0
        self._uart.write(buf, k)  # returns once the frame has left the wire

    def _compact(self):
        q = self._q
        n = self.queued - self._qh
        for i in range(n):  # forwards: the source is always ahead of the destination
            q[i] = q[self._qh + i]
        self._qh = 0
        self.queued = n

    def verify(self, stage, rid, ack, code=0, data=0, step=0):
        """A PUS 1 report: success (code 0) only if ``ack`` asks for it, failure always.

        Source data: request id u32 [, step u8 for progress] [, code u16, data u16 on failure].
        """
        if code == 0 and not ack & _ACK[stage]:
            return
        buf = self.buf
        struct.pack_into(">I", buf, TM_HEADER, rid)
        n = 4
        if stage == PROGRESS:
            buf[TM_HEADER + n] = step
            n += 1
        if code:
            struct.pack_into(">HH", buf, TM_HEADER + n, code, data)
            n += 4
        self.send(TM_ACCEPTED + stage + (1 if code else 0), n)

    def event(self, eid, a=0, b=0, c=0, d=0):
        """A PUS 5 event: its id then its fields (up to four; extra arguments are not sent)."""
        f = EVENT_FORMATS[eid - 1]
        buf = self.buf
        struct.pack_into(">H", buf, TM_HEADER, eid)
        n = len(f) - 1  # one struct code per field
        if n == 1:
            struct.pack_into(f, buf, TM_HEADER + 2, a)
        elif n == 2:
            struct.pack_into(f, buf, TM_HEADER + 2, a, b)
        elif n == 3:
            struct.pack_into(f, buf, TM_HEADER + 2, a, b, c)
        elif n == 4:
            struct.pack_into(f, buf, TM_HEADER + 2, a, b, c, d)
        self.send(TM_EVENT_INFO + EVENT_SEVERITY[eid - 1] - 1, 2 + self._elen[eid - 1])
