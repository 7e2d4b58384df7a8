"""A fake Board (the board contract in RAM, time moved by hand) and a test rig.

Runs under CPython and the MicroPython unix port alike. The fake board is also
the plant: a burn on a slot whose ``release_after`` is set flips its switch
after that many ms of current; the one-shot hardware cutoff ends a burn at
exactly ``max_ms``. Every burn is logged with the inhibits seen when it began,
so tests can check the safety rules on what the hardware did, not on what the
firmware says. The flash filesystem is a directory of the host; the backup SRAM
is a bytearray that a reset keeps and a power loss without VBAT fills with
garbage, as the real SRAM comes up.
"""

import gc
import os
import struct
import sys

from firmware import framing
from firmware.app import TICK_MS, App
from firmware.packet import crc16, decode_tm, encode_tc
from firmware.tables import CMD_FORMAT, CMD_FUNCTION, CMD_SERVICE, CMD_SUBTYPE, EVENT_FORMATS, MAC_LEN, N_SLOTS

# MicroPython's ticks_ms wraps at 2**30; the period itself is no small int on a 32-bit port (30 bits
# and a sign), so only the mask and half of it are named, and no step of ticks_diff leaves that range.
_TICKS_MASK = 0x3FFFFFFF
_TICKS_HALF = 0x20000000
BACKUP_SIZE = 4096  # the STM32F4's backup SRAM
MP = sys.implementation.name == "micropython"


class FakeUart:
    """The board's UART: ``write`` returns once the bytes have left the wire (the fake board's
    time moves by their line time, 10 bits a byte at ``baud``), as the stm32 port's does."""

    baud = 115200

    def __init__(self, board):
        self._board = board
        self.rx = bytearray()
        self.tx = bytearray()
        self.capture = True  # False: count bytes only (allocation measurements)
        self.written = 0

    def readinto(self, buf):
        n = min(len(buf), len(self.rx))
        if not n:
            return None
        buf[:n] = self.rx[:n]
        self.rx = self.rx[n:]
        return n

    def write(self, buf, n):
        self._board.wire(n * (160_000_000 // self.baud))
        self.written += n
        if self.capture:
            self.tx.extend(buf[:n])


def garbage(mem, seed=1):
    """Fill ``mem`` with xorshift noise (16 bits: small ints everywhere): what an SRAM holds when it
    powers up."""
    x = seed & 0xFFFF or 1
    for i in range(len(mem)):
        x ^= (x << 7) & 0xFFFF
        x ^= x >> 9
        x ^= (x << 8) & 0xFFFF
        mem[i] = x & 0xFF


# The board's one backup SRAM, allocated at import so that heap figures taken on a
# fake board (tests/bench) count it with the harness, not with the application.
_SRAM = bytearray(BACKUP_SIZE)


class FakeBoard:
    fs_atomic = True  # as littlefs: records are rewritten in place

    def __init__(self, root, t0=1000):
        self.t = t0
        self._wire_x16 = 0  # line time written and not yet a whole ms of board time, in 1/16 us
        self.uart = FakeUart(self)
        self.fs_root = root
        self.backup = _SRAM  # one board at a time: a new one powers up with garbage
        garbage(self.backup)
        self.rbf = self.perm = True
        self.arm_out = False
        self.arm_fault = False  # True: the arm line never reads back on
        self.switches = [False] * N_SLOTS
        self.release_after = [None] * N_SLOTS  # ms of burn until the satellite leaves; None: stuck
        self.on = -1
        self.start = self.max_ms = 0
        self.burns = []  # (slot, start, end) of every finished burn
        self.violations = []
        self.cause = 0
        self.led = False
        self.fed = 0
        self.temp = 250  # 0.1 degC, as board.temperature() returns it

    # --- the board contract ---------------------------------------------------
    def ticks_ms(self):
        return self.t & _TICKS_MASK

    def ticks_diff(self, a, b):
        d = a - b  # two ticks values: within +-(2**30 - 1)
        if d >= _TICKS_HALF:
            return d - _TICKS_MASK - 1
        if d < -_TICKS_HALF:
            return d + _TICKS_MASK + 1
        return d

    def idle(self, ms):
        self.advance(ms)

    def rbf_removed(self):
        return self.rbf

    def permit(self):
        return self.perm

    def switch(self, slot):
        return self.switches[slot]

    def set_arm(self, on):
        self.arm_out = on

    def arm_line(self):
        return self.arm_out and not self.arm_fault

    def burn(self, slot, max_ms):
        if self.on >= 0:
            self.violations.append("second actuator while slot %d burns" % self.on)
        if not (self.rbf and self.perm and self.arm_line()):
            self.violations.append("burn with an inhibit missing")
        self.on = slot
        self.start = self.t
        self.max_ms = max_ms

    def cut(self):
        if self.on >= 0:
            self.burns.append((self.on, self.start, self.t))
        self.on = -1

    def burning(self):
        return self.on

    def set_led(self, on):
        self.led = on

    def feed(self):
        self.fed += 1

    def reset_cause(self):
        return self.cause

    def temperature(self):
        return self.temp

    def heap_free(self):
        return gc.mem_free() if MP else 40000

    def reset(self):
        raise RuntimeError("reset requested")

    # --- the plant ------------------------------------------------------------
    def advance(self, ms):
        end = self.t + ms
        if self.on >= 0:
            s = self.on
            r = self.release_after[s]
            if r is not None and self.start + r <= end:
                self.switches[s] = True
            if self.start + self.max_ms <= end:  # the hardware cutoff
                self.t = self.start + self.max_ms
                self.cut()
        self.t = end

    def wire(self, x16):
        """A UART write blocked the CPU for ``x16`` sixteenths of a microsecond."""
        self._wire_x16 += x16
        ms = self._wire_x16 // 16000
        self._wire_x16 -= ms * 16000
        if ms:
            self.advance(ms)

    def power_cycle(self, cause, keep_backup=True):
        """A reset: outputs drop, the flash and the satellites stay as they are; the backup
        SRAM too, unless the supply went without VBAT (``keep_backup`` False)."""
        self.cut()
        self.arm_out = False
        self.uart.rx = bytearray()
        self.cause = cause
        if not keep_backup:
            garbage(self.backup, self.t & 0xFFFF | 1)


def fresh_dir(name):
    """An empty directory for one test's flash records (one tree per checkout and runtime: the
    worktrees on one machine run their tests at the same time)."""
    top = "/tmp/fwtest-" + sys.implementation.name + os.getcwd().replace("/", "-")
    for d in (top, top + "/" + name):
        try:
            os.mkdir(d)
        except OSError:
            pass
    d = top + "/" + name
    for f in os.listdir(d):
        os.remove(d + "/" + f)
    return d


def no_collection():
    """Housekeeping's collection, left out (a test that counts allocations, or CPython)."""


class Rig:
    """One App over a FakeBoard, driven by telecommands; collects the telemetry."""

    def __init__(self, name, t0=1000, keys=b""):
        self.board = FakeBoard(fresh_dir(name), t0)
        if keys:  # the board's keys file, as `make flash KEYS=` installs it (ground.auth.blob)
            with open(self.board.fs_root + "/keys", "wb") as f:
                f.write(keys)
        self.app = self._boot()
        self.seq = 0
        self.count = 0  # the last authentication counter signed
        self.tms = []
        self.keep_raw = False  # True: also keep each packet's bytes in ``raw``
        self.raw = []

    def _boot(self):
        app = App(self.board)
        if not MP:  # CPython's collection is the host's whole heap: tens of ms in a test process
            app.hk.collect = no_collection  # for a figure this board fixes (heap_free)
        return app

    def tc(self, cmd, *args, ack=0xF):
        """Bytes of telecommand ``cmd`` (a CMD_* index) with ``args``; next sequence count."""
        fid = CMD_FUNCTION[cmd]
        data = (struct.pack(">H", fid) if fid else b"") + struct.pack(CMD_FORMAT[cmd], *args)
        self.seq += 1
        return encode_tc(CMD_SERVICE[cmd], CMD_SUBTYPE[cmd], data, seq=self.seq, ack=ack)

    def send(self, cmd, *args, ack=0xF, extra=b""):
        """Queue a TC on the link; returns its request id."""
        packet = self.tc(cmd, *args, ack=ack)
        if extra:
            packet = encode_tc(packet[7], packet[8], packet[11:-2] + extra, seq=self.seq, ack=ack)
        return self.send_raw(packet)

    def signed(self, cmd, *args, key=1, count=None):
        """Bytes of ``cmd`` with an authentication trailer: key id ``key``, the next counter (or ``count``)."""
        self.count = self.count + 1 if count is None else count
        return sign(self.tc(cmd, *args), key, self.count, self.app.verification.auth)

    def send_raw(self, packet):
        self.board.uart.rx.extend(framing.frame(packet))
        return struct.unpack(">I", packet[:4])[0]

    def run(self, ms=TICK_MS):
        """Loop iterations until ``ms`` of fake time passed and the link's input is read and
        answered (the loop reads a few commands an iteration); returns the new telemetry."""
        end = self.board.t + ms
        while True:
            rest = self.app.step()
            if self.board.t >= end and not self.board.uart.rx and not self.app.tm.queued:
                break
            self.board.idle(rest)
        return self.collect()

    def collect(self):
        tx = self.board.uart.tx
        out = []
        buf = bytearray(framing.MAX_FRAME)
        i = 0
        while True:
            j = tx.find(b"\x00", i)
            if j < 0:
                break
            n = framing.decode_into(tx[i:j], j - i, buf)
            out.append(decode_tm(buf, n))
            if self.keep_raw:
                self.raw.append(bytes(buf[:n]))
            i = j + 1
        self.board.uart.tx = tx[i:]
        self.tms.extend(out)
        return out

    def reset(self, cause=1):
        self.board.power_cycle(cause)
        self.app = self._boot()
        return self.collect()

    def power_loss(self, vbat=False):
        """Power off and on (cause POWER_ON): the backup SRAM survives only with ``vbat``."""
        self.board.power_cycle(0, vbat)
        self.app = self._boot()
        return self.collect()


def sign(packet, key, count, auth):
    """``packet`` with the trailer of ``key`` and ``count``; its MAC by the firmware's HMAC (``auth``,
    an Auth with the key), which tests/test_auth.py checks against CPython's hmac."""
    body = bytearray(packet[:-2]) + struct.pack(">BI", key, count)
    struct.pack_into(">H", body, 4, len(body) + MAC_LEN + 2 - 7)
    body += auth._mac(key, body, len(body))[:MAC_LEN]
    return bytes(body) + struct.pack(">H", crc16(body, len(body)))


def events(tms, eid=None):
    """(event id, fields tuple) of the events in ``tms``, optionally only ``eid``."""
    out = []
    for tm in tms:
        if tm.service == 5:
            e = struct.unpack(">H", tm.data[:2])[0]
            if eid is None or e == eid:
                out.append((e, struct.unpack(EVENT_FORMATS[e - 1], tm.data[2:])))
    return out


def reports(tms, rid):
    """(subtype, data after the request id) of the PUS 1 reports about ``rid``."""
    return [(tm.subtype, tm.data[4:]) for tm in tms if tm.service == 1 and struct.unpack(">I", tm.data[:4])[0] == rid]


def subtypes(tms, rid):
    return [s for s, _ in reports(tms, rid)]


def failure(tms, rid):
    """(subtype, code, data) of the first failure report about ``rid``, or None."""
    for s, d in reports(tms, rid):
        if s % 2 == 0:
            off = 1 if s == 6 else 0
            code, data = struct.unpack(">HH", d[off:off + 4])
            return s, code, data
    return None


def completion(tms, rid):
    """(code, data) of the completion failure about ``rid``, or None."""
    for s, d in reports(tms, rid):
        if s == 8:
            return struct.unpack(">HH", d)
    return None
