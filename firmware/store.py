"""Records on the flash filesystem: atomic, checked, never fatal.

Each record is one file holding its payload followed by the payload's CRC-16
(the same CRC as the link). A save writes ``<name>.tmp`` and renames it over
the record, so a reset mid-write leaves either the old or the new record, never
a torn one (littlefs renames atomically). FAT, the stock board's default, will
not rename over a file: there the record is removed first, and a load that
finds no good record takes a complete ``.tmp`` (the newest, whose rename a
reset interrupted). A load that finds neither reports False, and the owner
falls back to safe defaults and raises RECORD_CORRUPT: a bad record never
stops the boot.
"""

import os

from micropython import const

from firmware.packet import crc16
from firmware.tables import EV_RECORD_CORRUPT, EV_RECORD_MISSING, EV_STORAGE_ERROR

_NAMES = ("", "state", "params", "schedule")  # file of each record, by its number (REC_* in tables)
_NONE = const(0)  # what _read found, in rising order of use
_BAD = const(1)
_GOOD = const(2)


class Store:
    def __init__(self, root, tm):
        self._root = root
        self._tm = tm

    def _path(self, rec, suffix):
        return "%s/%s.%s" % (self._root, _NAMES[rec], suffix)

    def load(self, rec, buf):
        """Fill ``buf`` with record ``rec``; False, with RECORD_MISSING or RECORD_CORRUPT, if it
        has none or a bad one (a good temp file left by a cut write counts as the record)."""
        found = self._read(self._path(rec, "rec"), buf)
        if found != _GOOD:
            found = max(found, self._read(self._path(rec, "tmp"), buf))
        if found == _GOOD:
            return True
        self._tm.event(EV_RECORD_CORRUPT if found == _BAD else EV_RECORD_MISSING, rec)
        return False

    def _read(self, path, buf):
        n = len(buf)
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError:
            return _NONE
        if len(data) != n + 2 or crc16(data, n + 2):
            return _BAD
        buf[:] = data[:n]
        return _GOOD

    def save(self, rec, buf):
        """Write record ``rec`` atomically; False (and STORAGE_ERROR) if the flash refused."""
        n = len(buf)
        tail = bytearray(2)
        c = crc16(buf, n)
        tail[0] = c >> 8
        tail[1] = c & 0xFF
        tmp = self._path(rec, "tmp")
        try:
            with open(tmp, "wb") as f:
                f.write(buf)
                f.write(tail)
            path = self._path(rec, "rec")
            try:
                os.rename(tmp, path)
            except OSError:  # FAT: the target must go first
                os.remove(path)
                os.rename(tmp, path)
            return True
        except OSError:
            self._tm.event(EV_STORAGE_ERROR, rec)
            return False
