"""Records: kept in the backup SRAM, and on flash when they must survive a power loss.

A record is its owner's buffer (the payload) with a generation number, one more at every
save, and the CRC-16 of the link. Every save writes the backup SRAM, which survives every
reset and, with VBAT supplied, a power loss; a persisted save (``durable``) also writes the
flash filesystem, which survives everything but costs a sector erase (docs/ARCHITECTURE.md,
"Persistent state"). ``load`` takes the valid copy with the highest generation::

    backup SRAM, two slots per record at _BASE[record], written alternately, so a cut
    mid-write leaves the other one whole:
        record u8 | payload length u16 | generation u32 | payload | CRC-16 of all before it
    flash, /flash/<name>.rec:
        generation u32 | payload | CRC-16 of both

On littlefs (``board.fs_atomic``) the record file is rewritten in place: littlefs replaces
a file at its close, or not at all, and one commit costs a third of the erases of a temp
file and a rename. FAT will not rename over a file, nor replace one atomically: there the
record goes to ``<name>.tmp``, the old one is removed, the new renamed, and a load that
finds no good record takes a complete ``.tmp``.

No flash write while an actuator is on: erasing or writing a sector freezes every piece of
code in flash (the loop that samples the switches, TIM2's cut) for up to seconds; only the
hardware cutoff, a timer channel on the actuator pin, runs on. A persisted save
made then is queued and written by ``flush`` once the actuator is off (the backup copy is
written at once); services.py refuses the commands that would need one.

A load that finds no valid copy reports False, with RECORD_MISSING (no flash file) or
RECORD_CORRUPT, and the owner falls back to safe defaults: a bad record never stops the
boot. A good backup copy over a missing or bad flash copy is written back to flash, and a
flash copy newer than the backup's (after a power loss) is copied to the backup SRAM: so a
reset inside a sector write-back never loses a record.
"""

import os
import struct

from micropython import const

from firmware.packet import crc16
from firmware.tables import (
    EV_RECORD_CORRUPT,
    EV_RECORD_MISSING,
    EV_STORAGE_ERROR,
    REC_AUTH,
    REC_PARAMS,
    REC_SCHEDULE,
    REC_STATE,
)

RECORDS = ("", "state", "params", "schedule", "auth")  # file of each record, by its number (REC_* in tables)
_BASE = (0, 0, 512, 1024, 2000)  # backup SRAM offset of each record's two slots (the schedule ends at 1924)
_HEAD = ">BHI"
_HEAD_LEN = const(7)
_GEN_LEN = const(4)
_CHUNK = const(64)  # bytes read at a time by a load
_NONE = const(0)  # what a flash file held, in rising order of use
_BAD = const(1)
_GOOD = const(2)


class Store:
    def __init__(self, board, tm):
        self._board = board
        self._root = board.fs_root
        self._mem = board.backup
        self._tm = tm
        self._gen = [0, 0, 0, 0, 0]
        self._bufs = [None, None, None, None, None]  # the payload of each record, for queued writes
        self.pending = 0  # bit r: record r waits for the actuator to go off
        self._head = bytearray(_HEAD_LEN)
        self._gen_head = bytearray(_GEN_LEN)
        self._tail = bytearray(2)

    def _path(self, rec, suffix):
        return "%s/%s.%s" % (self._root, RECORDS[rec], suffix)

    def _slot(self, rec, n, i):
        return _BASE[rec] + i * (_HEAD_LEN + n + 2)

    # --- load -------------------------------------------------------------------------
    def load(self, rec, buf):
        """Fill ``buf`` with the newest valid copy of record ``rec``; False (and an event) if none."""
        n = len(buf)
        self._bufs[rec] = buf
        best = -1
        mem = self._mem
        for i in (0, 1):
            o = self._slot(rec, n, i)
            r, size, gen = struct.unpack_from(_HEAD, mem[o:o + _HEAD_LEN], 0)
            part = lambda a, b, o=o: mem[o + a:o + b]  # noqa: E731
            if r == rec and size == n and gen > best and _intact(part, _HEAD_LEN + n + 2):
                best = gen
                _copy(part, _HEAD_LEN, buf)
        found, gen = self._read(self._path(rec, "rec"), buf, best)
        if found != _GOOD:
            found, gen = max((found, gen), self._read(self._path(rec, "tmp"), buf, best))
        if best < 0 and found != _GOOD:
            self._tm.event(EV_RECORD_CORRUPT if found == _BAD else EV_RECORD_MISSING, rec)
            return False
        if found != _GOOD:
            self.pending |= 1 << rec  # flash lost it (a cut inside a sector write-back): write it again
        if gen > best:  # the backup SRAM lost it (a power loss): keep it there for the next reset
            self._backup(rec, buf, gen)
        self._gen[rec] = max(best, gen)
        return True

    def _read(self, path, buf, newer_than):
        """(what the file held, its generation); ``buf`` takes its payload if newer than ``newer_than``."""
        n = len(buf)
        try:
            with open(path, "rb") as f:
                def part(a, b):
                    f.seek(a)
                    return f.read(b - a)

                if f.seek(0, 2) != _GEN_LEN + n + 2 or not _intact(part, _GEN_LEN + n + 2):
                    return _BAD, -1
                gen = struct.unpack_from(">I", part(0, _GEN_LEN), 0)[0]
                if gen > newer_than:
                    _copy(part, _GEN_LEN, buf)
        except OSError:
            return _NONE, -1
        return _GOOD, gen

    # --- save -------------------------------------------------------------------------
    def save(self, rec, buf, durable):
        """Save record ``rec``: backup SRAM now, flash too if ``durable`` (queued while an actuator
        is on). False (and STORAGE_ERROR) if the flash refused."""
        self._bufs[rec] = buf
        self._gen[rec] += 1
        self._backup(rec, buf, self._gen[rec])
        if durable:
            self.pending |= 1 << rec
        return self.flush()

    def _backup(self, rec, buf, gen):
        n = len(buf)
        o = self._slot(rec, n, gen & 1)
        struct.pack_into(_HEAD, self._head, 0, rec, n, gen)
        c = crc16(buf, n, crc16(self._head, _HEAD_LEN))
        self._tail[0] = c >> 8
        self._tail[1] = c & 0xFF
        m = self._mem
        m[o:o + _HEAD_LEN] = self._head
        m[o + _HEAD_LEN:o + _HEAD_LEN + n] = buf
        m[o + _HEAD_LEN + n:o + _HEAD_LEN + n + 2] = self._tail

    def flush(self):
        """Write the queued records to flash unless an actuator is on; False if one failed."""
        if not self.pending or self._board.burning() >= 0:
            return True
        ok = True
        for rec in (REC_STATE, REC_PARAMS, REC_SCHEDULE, REC_AUTH):
            if self.pending & (1 << rec):
                self.pending &= ~(1 << rec)
                ok = self._write(rec) and ok
        return ok

    def _write(self, rec):
        buf = self._bufs[rec]
        n = len(buf)
        head = self._gen_head
        struct.pack_into(">I", head, 0, self._gen[rec])
        c = crc16(buf, n, crc16(head, _GEN_LEN))
        self._tail[0] = c >> 8
        self._tail[1] = c & 0xFF
        path = self._path(rec, "rec")
        atomic = self._board.fs_atomic
        self._board.feed()  # a write-back can freeze the firmware for seconds (docs/ARCHITECTURE.md)
        try:
            with open(path if atomic else self._path(rec, "tmp"), "wb") as f:
                f.write(head)
                f.write(buf)
                f.write(self._tail)
            if not atomic:
                try:
                    os.remove(path)  # FAT will not rename over a file
                except OSError:
                    pass
                os.rename(self._path(rec, "tmp"), path)
            return True
        except OSError:
            self._tm.event(EV_STORAGE_ERROR, rec)
            return False


def _intact(part, total):
    """True if the ``total`` bytes that ``part(a, b)`` serves, their CRC last, check. Read in
    chunks, as ``_copy`` copies: loading a record needs no free block its size (at boot the
    imports leave the heap in small pieces: a 451-byte read failed there with 21 KB free)."""
    c = 0xFFFF
    for a in range(0, total, _CHUNK):
        d = part(a, min(a + _CHUNK, total))
        c = crc16(d, len(d), c)
    return c == 0


def _copy(part, start, buf):
    """``buf`` = the bytes ``part`` serves from ``start`` on, in chunks."""
    n = len(buf)
    for a in range(0, n, _CHUNK):
        b = min(a + _CHUNK, n)
        buf[a:b] = part(start + a, start + b)
