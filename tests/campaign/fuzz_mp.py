"""Fuzz the firmware's deframer and command handlers under the MicroPython unix port.

Run by tests/campaign/fuzz.py as ``micropython -X heapsize=64k`` from .mpy files:
``import fuzz_mp; fuzz_mp.main(count, seed)``. The real App runs over the fake board
(tests/firmware/fakes.py) with the remove-before-flight plug IN, so that any actuator
current or arm-enable output at all is a violation. Each input is one of:

    0 a valid TC of a dictionary command, arguments in range   (the handlers run; limits often)
    1 a valid-CRC TC of a dictionary command, random data      (length and range checks)
    2 a valid-CRC TC with random service/subtype and data      (unknown commands)
    3 a valid TC with 1-3 bits flipped                         (CRC check)
    4 a valid TC truncated                                     (short packets)
    5 a valid TC with random bytes inserted                    (long packets)
    6 a framed valid TC with bits flipped after COBS           (deframer)
    7 random bytes, delimiters included                        (resynchronisation)

followed by a few loop iterations. Checked after every input: no exception escaped
``App.step``, no actuator on, arm-enable off, the fake board logged no unsafe burn, and
``gc.mem_free()`` (after a collection, every 64 inputs) stays above FLOOR. Prints one
``VIOLATION what, input hex`` line per finding and a closing ``RESULT`` line.
"""

import gc
import struct

from firmware import framing
from firmware.packet import encode_tc
from firmware.tables import CMD_FORMAT, CMD_FUNCTION, CMD_HI, CMD_LO, CMD_SERVICE, CMD_SUBTYPE, CMD_TAIL, MAX_TC_DATA
from tests.firmware.fakes import Rig

FLOOR = 8192  # bytes of heap that must stay free (HK's nominal lower limit)
KINDS = 8
STEPS = 3  # loop iterations after each input


class Rng:
    """xorshift32: the same draws on every runtime for a given seed."""

    def __init__(self, seed):
        self.x = (seed * 2654435761 + 1) & 0xFFFFFFFF or 1

    def next(self):
        x = self.x
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        self.x = x
        return x

    def below(self, n):
        return self.next() % n

    def between(self, lo, hi):
        return lo + self.next() % (hi - lo + 1)

    def edge(self, lo, hi):
        """A value in lo..hi, one of the two limits a quarter of the time."""
        k = self.below(8)
        return lo if k == 0 else hi if k == 1 else self.between(lo, hi)

    def bytes(self, n):
        return bytes(self.next() & 0xFF for _ in range(n))


def _head(i):
    """The function id that leads command ``i``'s data, if it has one."""
    return struct.pack(">H", CMD_FUNCTION[i]) if CMD_FUNCTION[i] else b""


def valid_tc(rng, seq, depth=0):
    i = rng.below(len(CMD_SERVICE))
    fmt = CMD_FORMAT[i]
    args = []
    for k in range(len(CMD_LO[i])):
        hi = CMD_HI[i][k]  # None: as far as the wire type goes
        args.append(rng.edge(CMD_LO[i][k], (1 << 8 * struct.calcsize(">" + fmt[k + 1])) - 1 if hi is None else hi))
    data = _head(i) + struct.pack(fmt, *args)
    if CMD_TAIL[i]:  # a whole TC follows (SCHED_INSERT)
        data += valid_tc(rng, seq, 1) if depth == 0 else b""
    return encode_tc(CMD_SERVICE[i], CMD_SUBTYPE[i], data[:MAX_TC_DATA], seq=seq)


def make_input(rng, kind, seq):
    """Bytes for the link: one mutated input of ``kind``."""
    if kind == 1:
        i = rng.below(len(CMD_SERVICE))
        head = _head(i) if CMD_FUNCTION[i] and rng.below(2) else b""
        return framing.frame(encode_tc(CMD_SERVICE[i], CMD_SUBTYPE[i], head + rng.bytes(rng.below(MAX_TC_DATA + 8)),
                                       seq=seq))
    if kind == 2:
        return framing.frame(encode_tc(rng.below(256), rng.below(256), rng.bytes(rng.below(40)), seq=seq))
    if kind == 7:
        return rng.bytes(rng.below(300))
    p = bytearray(valid_tc(rng, seq))
    if kind == 3:
        for _ in range(rng.between(1, 3)):
            p[rng.below(len(p))] ^= 1 << rng.below(8)
    elif kind == 4:
        p = p[:rng.below(len(p))]
    elif kind == 5:
        i = rng.below(len(p) + 1)
        p = p[:i] + rng.bytes(rng.between(1, 64)) + p[i:]
    f = bytearray(framing.frame(p))
    if kind == 6:
        for _ in range(rng.between(1, 3)):
            f[rng.below(len(f))] ^= 1 << rng.below(8)
    return bytes(f)


def unsafe(board):
    """What the board did that it must not have done with the plug in, or None."""
    if board.violations:
        return board.violations[0]
    if board.on >= 0 or board.burns:
        return "actuator energised"
    if board.arm_out:
        return "arm-enable driven on"
    return None


def plugged_rig(keys=b""):
    """A fresh App over the fake board (with the board's keys file ``keys``) and the RBF plug in:
    nothing may reach an output."""
    rig = Rig("fuzz", keys=keys)
    rig.board.rbf = False
    rig.board.uart.capture = False
    return rig


def main(count, seed=1):
    rig = plugged_rig()
    b = rig.board
    rng = Rng(seed)
    tried = [0] * KINDS
    found = 0
    low = gc.mem_free()
    for i in range(count):
        kind = rng.below(KINDS)
        tried[kind] += 1
        data = make_input(rng, kind, i & 0x3FFF)
        b.uart.rx.extend(data)
        try:
            for _ in range(STEPS):
                rig.app.step()
                b.idle(10)
        except Exception as e:  # the finding itself: report it and go on with a fresh board
            found += 1
            print("VIOLATION exception %r, input %s" % (e, data.hex()))
            rig = plugged_rig()
            b = rig.board
            continue
        why = unsafe(b)
        if why:
            found += 1
            print("VIOLATION %s, input %s" % (why, data.hex()))
            b.violations = []
            b.burns = []
            b.cut()
        if i & 63 == 63:
            gc.collect()
            free = gc.mem_free()
            if free < low:
                low = free
            if free < FLOOR:
                found += 1
                print("VIOLATION heap %d bytes free at input %d" % (free, i))
    d = rig.app.deframer
    print("RESULT %d %d %d %d %d %d %d %s" % (count, found, low, d.frames, d.crc_errors, d.oversize, d.undecodable,
                                             ",".join(str(t) for t in tried)))
