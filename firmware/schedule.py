"""The time-based schedule (PUS 11): time-tagged telecommands, persisted (to flash) as record 3.

Layout: enabled u8, then SCHEDULE_SIZE entries of::

    length u8 (0 = free) | days u16 | ms u32 | telecommand (up to TC_MAX bytes)

The entries and the enabled flag survive a reset. Release compares the tag
with on-board time and only while that time is correlated: after a reset the
clock restarts at uptime, so nothing is released until ground sets the time
again (TIME_SET). A released command goes through the same checks as one from
the link (duplicates, inhibits, ARMED for FIRE) and reports to the ground.
"""

import struct

from micropython import const

from firmware.tables import (
    BAD_LENGTH,
    EV_SCHEDULE_CLEARED,
    REC_SCHEDULE,
    SCHEDULE_FULL,
    SCHEDULE_NOT_FOUND,
    SCHEDULE_SIZE,
    STORAGE,
)

TC_MAX = const(48)  # longest TC kept: a FIRE_SEQUENCE is 18 bytes; RAM is scarce
_ENTRY = const(55)  # 7-byte tag + TC_MAX
_TAG = ">BHI"


class Schedule:
    def __init__(self, store, tm):
        self._store = store
        self._tm = tm
        self._buf = bytearray(1 + SCHEDULE_SIZE * _ENTRY)
        self.enabled = True
        if store.load(REC_SCHEDULE, self._buf):
            self.enabled = bool(self._buf[0])
        else:  # empty and enabled, saved so the next boot finds a good record
            self._buf[:] = bytes(len(self._buf))
            self._save()

    def count(self):
        n = 0
        for i in range(SCHEDULE_SIZE):
            if self._buf[1 + i * _ENTRY]:
                n += 1
        return n

    def entry(self, i):
        """Entry ``i`` as (TC length, days, ms, request id); length 0: free."""
        o = 1 + i * _ENTRY
        n, days, ms = struct.unpack_from(_TAG, self._buf, o)
        return n, days, ms, struct.unpack_from(">I", self._buf, o + 7)[0] if n else 0

    def room(self, n):
        """0 if an ``n``-byte TC can be inserted, else BAD_LENGTH or SCHEDULE_FULL."""
        if n > TC_MAX:
            return BAD_LENGTH
        return 0 if self._free() >= 0 else SCHEDULE_FULL

    def insert(self, days, ms, src, off, n):
        """Keep the ``n``-byte TC at ``src[off:]`` for release at days/ms; 0 or a failure code."""
        code = self.room(n)
        if code:
            return code
        o = 1 + self._free() * _ENTRY
        struct.pack_into(_TAG, self._buf, o, n, days, ms)
        self._buf[o + 7:o + 7 + n] = src[off:off + n]
        return self._save()

    def _free(self):
        for i in range(SCHEDULE_SIZE):
            if not self._buf[1 + i * _ENTRY]:
                return i
        return -1

    def delete(self, rid):
        for i in range(SCHEDULE_SIZE):
            if self.entry(i)[3] == rid:  # a free entry reads 0, never a TC's request id
                self._buf[1 + i * _ENTRY] = 0
                return self._save()
        return SCHEDULE_NOT_FOUND

    def take(self, i, dst):
        """Copy entry ``i``'s TC into ``dst``, drop the entry; returns the TC's length."""
        o = 1 + i * _ENTRY
        n = self._buf[o]
        dst[:n] = self._buf[o + 7:o + 7 + n]
        self._buf[o] = 0
        self._save()
        return n

    def due(self, clock):
        """Index of an entry whose time has come, or -1 (only when enabled and correlated).

        Runs every loop, so it reads the tag byte by byte: no tuple allocated.
        """
        if not (self.enabled and clock.correlated):
            return -1
        b = self._buf
        for i in range(SCHEDULE_SIZE):
            o = 1 + i * _ENTRY
            if b[o]:
                ms = b[o + 3] << 24 | b[o + 4] << 16 | b[o + 5] << 8 | b[o + 6]
                if clock.reached(b[o + 1] << 8 | b[o + 2], ms):
                    return i
        return -1

    def enable(self, on):
        self.enabled = on
        return self._save()

    def reset(self):
        """Delete every entry (SCHED_RESET, SAFE) with a SCHEDULE_CLEARED event."""
        self._tm.event(EV_SCHEDULE_CLEARED, self.count())
        for i in range(SCHEDULE_SIZE):
            self._buf[1 + i * _ENTRY] = 0
        return self._save()

    def _save(self):
        self._buf[0] = 1 if self.enabled else 0
        return 0 if self._store.save(REC_SCHEDULE, self._buf, True) else STORAGE
