"""Framing on the serial line: COBS-encoded packets, each followed by a 0x00 delimiter.

::

    ... | cobs(packet) | 00 | cobs(packet) | 00 | ...

COBS replaces every 0x00 of the packet, so the delimiter marks frame ends without
ambiguity and a receiver resynchronises at the next 0x00 whatever came before.
This is the only module that knows the framing; another (SLIP, say) would replace
it without touching the services.
"""

from micropython import const

from firmware.packet import TM_MAX, crc16

MAX_PACKET = TM_MAX  # the longest packet either way (TC data is capped lower)
MAX_FRAME = MAX_PACKET + MAX_PACKET // 254 + 1  # COBS adds at most one byte per 254
_ZERO = b"\x00"
_MIN_PACKET = const(8)  # a CCSDS primary header and a CRC


def encode_into(src, n, dst):
    """COBS-encode ``src[:n]`` into ``dst`` followed by the delimiter; returns the length."""
    code_at = 0
    out = 1
    code = 1
    for i in range(n):
        b = src[i]
        if b:
            dst[out] = b
            out += 1
            code += 1
        if not b or code == 0xFF:
            dst[code_at] = code
            code_at = out
            out += 1
            code = 1
    dst[code_at] = code
    dst[out] = 0
    return out + 1


def decode_into(src, n, dst):
    """COBS-decode ``src[:n]`` (no delimiter) into ``dst``; returns the length or -1."""
    i = 0
    out = 0
    cap = len(dst)
    while i < n:
        code = src[i]
        if code == 0 or i + code > n or out + code - 1 > cap:
            return -1
        i += 1
        for _ in range(code - 1):
            dst[out] = src[i]
            out += 1
            i += 1
        if code < 0xFF and i < n:
            if out == cap:
                return -1
            dst[out] = 0
            out += 1
    return out


try:  # CPython (ground): the same COBS in C, from the cobs package
    from cobs import cobs as _c_cobs  # pyright: ignore[reportMissingImports]
except ImportError:  # MicroPython
    _c_cobs = None
_VIEW = _c_cobs is None  # MicroPython slices through memoryviews; CPython's C decoder wants bytes


def frame(packet):
    """One whole frame for ``packet`` (bytes): ground side and tests."""
    if _c_cobs:
        return _c_cobs.encode(packet) + _ZERO
    dst = bytearray(len(packet) + len(packet) // 254 + 2)
    return bytes(dst[: encode_into(packet, len(packet), dst)])


class Deframer:
    """Turns a byte stream into verified packets; never raises on junk.

    ``feed(data, handler)`` calls ``handler(buf, n)`` for each frame whose COBS
    decodes and whose CRC checks; the handler returns False for a packet it
    cannot parse. Bad frames are dropped and counted; a frame longer than
    ``MAX_FRAME`` is dropped up to the next delimiter, so memory stays bounded.
    """

    def __init__(self):
        self._frame = bytearray(MAX_FRAME)
        self._frame_view = memoryview(self._frame) if _VIEW else self._frame
        self._packet = bytearray(MAX_FRAME)
        self._n = 0
        self._dropping = False
        self.frames = 0  # packets handed to the handler
        self.crc_errors = 0
        self.oversize = 0
        self.undecodable = 0  # bad COBS, too short, or refused by the handler

    def feed(self, data, handler, n=-1):
        if not _VIEW:  # CPython: split at the delimiters in C, one pass per chunk
            self._feed_parts((data if n < 0 else data[:n]).split(_ZERO), handler)
            return
        end = len(data) if n < 0 else n
        mv = memoryview(data)  # slices without copying
        i = 0
        while i < end:
            j = data.find(_ZERO, i, end)
            if j < 0:
                self._take(mv, i, end)
                return
            self._end_frame(mv[i:j], handler)
            i = j + 1

    def _feed_parts(self, parts, handler):
        tail = parts.pop()  # after the last delimiter: the start of an unfinished frame
        if parts:
            self._end_frame(parts[0], handler)  # may complete a frame begun earlier
            close = self._close
            for i in range(1, len(parts)):
                close(parts[i], handler)  # whole frames
        self._take(tail, 0, len(tail))

    def _end_frame(self, last_piece, handler):
        if self._n == 0 and not self._dropping:
            self._close(last_piece, handler)  # the whole frame came in one chunk
        else:
            self._take(last_piece, 0, len(last_piece))
            self._close(self._frame_view[: self._n], handler)
            self._n = 0
            self._dropping = False

    def _take(self, mv, i, j):
        if self._dropping:
            return
        m = self._n + j - i
        if m > MAX_FRAME:
            self._dropping = True
            self.oversize += 1
            return
        self._frame[self._n : m] = mv[i:j]
        self._n = m

    def _close(self, encoded, handler):
        if not encoded or self._dropping:
            return  # an idle delimiter, or the end of an oversize frame
        if len(encoded) > MAX_FRAME:
            self.oversize += 1
            return
        if _c_cobs:
            try:
                packet = _c_cobs.decode(encoded)
            except _c_cobs.DecodeError:
                packet = b""
            n = len(packet)
        else:
            packet = self._packet
            n = decode_into(encoded, len(encoded), packet)
        if n < _MIN_PACKET:
            self.undecodable += 1
        elif crc16(packet, n):
            self.crc_errors += 1
        elif handler(packet, n):
            self.frames += 1
        else:
            self.undecodable += 1
