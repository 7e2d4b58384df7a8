"""Telemetry out: packets built in one buffer, framed, written to the link.

Everything here runs in steady state (housekeeping, events), so it allocates
nothing: event sizes are worked out once, at start. ``backlog_us`` models the
UART: the line time of what was written and has not left yet (10 bits a byte at
the link's baud), so continuous housekeeping can keep the line full without
queueing more than it must. The PUS 1 layouts, which
firmware.tables does not carry, are checked against the dictionary by
tests/test_firmware_layouts.py.
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
_DRAINED_MS = const(1000)  # longer than any backlog: the UART is empty


class Telemetry:
    def __init__(self, board, clock):
        self.w = TmWriter()
        self.buf = self.w.buf
        self._frame = bytearray(MAX_FRAME)
        self._uart = board.uart
        self._clock = clock
        self._elen = bytes(struct.calcsize(f) for f in EVENT_FORMATS)
        self._us_per_byte_x16 = 160_000_000 // board.uart.baud  # 10 bits, in 1/16 us
        self._backlog_x16 = 0  # line time still queued when the clock last ticked
        self._at = clock.now

    def backlog_us(self):
        """Microseconds until everything written so far has left the UART."""
        c = self._clock
        ms = c.since(self._at)
        self._at = c.now
        gone = ms * 16000 if ms < _DRAINED_MS else self._backlog_x16  # no big int after a long quiet
        self._backlog_x16 = self._backlog_x16 - gone if self._backlog_x16 > gone else 0
        return self._backlog_x16 >> 4

    def send(self, tm, n):
        """Send packet ``tm`` (service << 8 | subtype) whose ``n`` data bytes are in ``buf``."""
        c = self._clock
        m = self.w.finish(tm >> 8, tm & 0xFF, n, c.days, c.ms)
        k = encode_into(self.buf, m, self._frame)
        self.backlog_us()  # drain to now first
        self._backlog_x16 += k * self._us_per_byte_x16
        self._uart.write(self._frame, k)

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
