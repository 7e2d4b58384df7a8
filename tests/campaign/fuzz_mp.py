"""Fuzz the firmware's deframer and command handlers under the MicroPython unix port.

Run by tests/campaign/fuzz.py as ``micropython -X heapsize=...`` from .mpy files:
``import fuzz_mp; fuzz_mp.main(count, seed, keys)``. The real App runs over the fake board
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

and, with ``keys`` (the board's keys file: key 1 in use from the first boot), also of:

    8 a valid TC signed with key 1 and the next counter        (runs: the handlers, signed)
    9 a signed TC with 1-3 bytes in a row changed, CRC good   (only the MAC can refuse it)
   10 a signed TC cut short, length and CRC made good          (a trailer cut or missing)
   11 a byte-identical copy of the last signed TC that ran     (a replay)

followed by a few loop iterations (more if the input is not read whole). Checked after every input: no exception escaped
``App.step``, no actuator on, arm-enable off, the fake board logged no unsafe burn, and
``gc.mem_free()`` (after a collection, every 64 inputs) stays above FLOOR; with keys, no input
but kind 8 ran a handler from the link (ABORT and SAFE excepted: with a key in use anyone
may send them), so every unsigned, changed, cut or replayed command was refused. Prints one
``VIOLATION what, input hex`` line per finding and a closing ``RESULT`` line.

No new names here unless unavoidable: the firmware and this harness fill the unix port's qstr
pools to within a few names of the next pool, which would take 7 KB of the heap.
"""

import gc
import struct

from micropython import const

from firmware import framing
from firmware.packet import crc16, encode_tc
from firmware.tables import (
    CMD_ABORT,
    CMD_FORMAT,
    CMD_FUNCTION,
    CMD_HI,
    CMD_KEY_REVOKE,
    CMD_LO,
    CMD_SAFE,
    CMD_SERVICE,
    CMD_SUBTYPE,
    CMD_TAIL,
    MAX_TC_DATA,
)
from tests.firmware.fakes import Rig, sign

FLOOR = 8192  # bytes of heap that must stay free (HK's nominal lower limit)
_UNSIGNED = const(8)  # kinds 0-7: unsigned inputs; 8-11 signed ones (with keys)
KINDS = 12
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


def make_input(rng, kind, seq, count=0, auth=None, packet=None):
    """Bytes for the link: one mutated input of ``kind``; a signed one (8-11) signed with key 1
    and ``count`` by ``auth`` (the App's own HMAC), or (11) ``packet``, the last signed one that ran."""
    if kind == 11:
        return packet
    if kind >= _UNSIGNED:  # no function of its own: its name would be one more qstr (see above)
        p = valid_tc(rng, seq)
        while p[7] == CMD_SERVICE[CMD_KEY_REVOKE] and p[12] == CMD_FUNCTION[CMD_KEY_REVOKE]:
            p = valid_tc(rng, seq)  # KEY_REVOKE left out: revoking key 1 would leave nothing signed to run
        p = bytearray(sign(p, 1, count, auth))
        n = len(p) - 2  # before the CRC
        if kind == 9:  # 1-3 bytes in a row: every one changed (at random places, two could undo each other)
            at = rng.below(n)
            for j in range(rng.between(1, 3)):
                p[(at + j) % n] ^= rng.between(1, 255)
        elif kind == 10:
            n = rng.between(11, n - 1)
            p = p[:n + 2]
            p[4:6] = bytes(((n - 5) >> 8, (n - 5) & 0xFF))  # the length field: data + CRC - 1
        p[n:] = crc16(p, n).to_bytes(2, "big")
        return framing.frame(p)
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


def unsafe(board, log=()):
    """What the board did that it must not have done with the plug in, or what ran of an input that
    must be refused (``log``: the commands run for it; ABORT and SAFE, which anyone may send, aside),
    or None."""
    if board.violations:
        return board.violations[0]
    if board.on >= 0 or board.burns:
        return "actuator energised"
    if board.arm_out:
        return "arm-enable driven on"
    for c in log:
        if c != CMD_ABORT and c != CMD_SAFE:
            return "command %d ran" % c
    return None


def plugged_rig(keys=b"", log=None):
    """A fresh App over the fake board (with the board's keys file ``keys``) and the RBF plug in:
    nothing may reach an output. ``log``: a list that gets each command (its index) whose handler
    runs for a TC from the link (not one the schedule released)."""
    rig = Rig("fuzz", keys=keys)
    rig.board.rbf = False
    rig.board.uart.capture = False
    if log is not None:
        s = rig.app.services
        run, release = s._run, s._release
        s._run = lambda i, buf, tc, args: (buf is release or log.append(i), run(i, buf, tc, args))[1]
    return rig


def main(count, seed=1, keys=b""):
    log = []
    rig = plugged_rig(keys, log)
    b = rig.board
    rng = Rng(seed)
    tried = [0] * (KINDS if keys else _UNSIGNED)
    found = 0
    low = gc.mem_free()
    signed = 0  # the last counter signed
    last = None  # the last signed TC that ran, framed
    runs = 0  # signed TCs (kind 8) that ran
    for i in range(count):
        kind = rng.below(len(tried))
        if kind == 11 and last is None:
            kind = 8
        tried[kind] += 1
        signed += kind >= _UNSIGNED
        data = make_input(rng, kind, i & 0x3FFF, signed, rig.app.verification.auth, last)
        b.uart.rx.extend(data)
        log.clear()
        try:
            for n in range(1000):  # STEPS, and as many more as it takes to read the input whole (32 bytes each)
                if n >= STEPS and not b.uart.rx:
                    break
                rig.app.step()
                b.idle(10)
        except Exception as e:  # the finding itself: report it and go on with a fresh board
            found += 1
            print("VIOLATION exception %r, input %s" % (e, data.hex()))
            rig = plugged_rig(keys, log)
            b = rig.board
            last = None
            continue
        why = unsafe(b, log if keys and kind != 8 else ())
        if kind == 8 and log:
            last = data
            runs += 1
        if why:
            found += 1
            print("VIOLATION %s (input kind %d), input %s" % (why, kind, data.hex()))
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
    print("RESULT %d %d %d %d %d %d %d %s %d" % (count, found, low, d.frames, d.crc_errors, d.oversize, d.undecodable,
                                                ",".join(str(t) for t in tried), runs))
