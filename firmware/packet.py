"""CCSDS space packets (CCSDS 133.0-B) carrying ECSS PUS-C, with CRC-16 error control.

Telemetry (TM), 20 header bytes, then the source data, then the CRC::

    byte  0-1   version 000 | type 0 | sec. header 1 | APID (11 bits)
          2-3   sequence flags 11 | sequence count (14 bits)
          4-5   packet data length = bytes after byte 5, minus 1
          6     PUS version 2 (4 bits) | time reference status 0 (4 bits)
          7     service type            8  message subtype
          9-10  message type counter (one counter for all TM of this APID)
          11-12 destination id
          13-19 time: CCSDS CDS short (P-field 0x40, days u16, ms of day u32)
          20..  source data
          last 2 bytes: CRC-16/CCITT-FALSE over everything before them

Telecommand (TC), 11 header bytes, then the application data, then the CRC::

    byte  0-5   primary header as above, type 1
          6     PUS version 2 (4 bits) | ack flags: acceptance 8, start 4, progress 2, completion 1
          7     service type            8  message subtype
          9-10  source id

The request id of a TC (PUS 1) is its first four bytes as a big-endian u32.
Everything is written with ``struct`` into buffers the caller owns, so the
firmware allocates nothing per packet.
"""

import struct
from array import array
from struct import unpack_from as _unpack_from  # decode_tm's hot path: one lookup fewer

from micropython import const

from firmware.tables import APID, GROUND_ID, MAX_TM_DATA

TM_HEADER = const(20)
TC_HEADER = const(11)
CRC_LEN = const(2)
TM_MAX = TM_HEADER + MAX_TM_DATA + CRC_LEN
_TM_MIN = TM_HEADER + CRC_LEN
_PUS_C = const(0x20)  # PUS version 2 in the high nibble
_CDS_PFIELD = const(0x40)  # CDS, epoch 1958-01-01, 16-bit days, no sub-ms
_SEQ_MASK = const(0x3FFF)
_UNSEGMENTED = const(0xC000)
_TYPE_TC = const(0x1000)
_SEC_HDR = const(0x0800)
_TM_FMT = ">HHHBBBHHBHI"  # primary header, PUS-C TM secondary header, CDS short
_TC_FMT = ">HHHBBBH"
ACK_ALL = const(0xF)
ACK_ACCEPT = const(8)
ACK_START = const(4)
ACK_PROGRESS = const(2)
ACK_COMPLETE = const(1)


def _make_table():
    table = array("H", bytes(512))  # 512 bytes of RAM, not a tuple of 256 objects
    for i in range(256):
        c = i << 8
        for _ in range(8):
            c = ((c << 1) ^ 0x1021) if c & 0x8000 else (c << 1)
        table[i] = c & 0xFFFF
    return table


_CRC_TABLE = _make_table()


def crc16_py(buf, n, crc=0xFFFF):
    """CRC-16/CCITT-FALSE of ``buf[:n]``: poly 0x1021, init 0xFFFF, no reflection or xor."""
    t = _CRC_TABLE
    for i in range(n):
        crc = ((crc << 8) & 0xFF00) ^ t[(crc >> 8) ^ buf[i]]
    return crc


try:  # CPython (ground): the same CRC in C (CRC-CCITT with init 0xFFFF is CCITT-FALSE)
    from binascii import crc_hqx as _crc_c  # pyright: ignore[reportAttributeAccessIssue]
except ImportError:  # MicroPython
    _crc_c = None


def crc16(buf, n, crc=0xFFFF):
    """CRC-16/CCITT-FALSE of ``buf[:n]``, in C where the runtime has it; ``crc``: the CRC so far."""
    if _crc_c:
        return _crc_c(buf if n == len(buf) else memoryview(buf)[:n], crc)
    return crc16_py(buf, n, crc)


class TmWriter:
    """Builds telemetry packets in one preallocated buffer.

    Write the source data with ``struct.pack_into(fmt, w.buf, TM_HEADER, ...)``,
    then ``finish`` adds the headers and CRC and returns the packet length.
    """

    def __init__(self, apid=APID, destination=GROUND_ID):
        self.buf = bytearray(TM_MAX)
        self.apid = apid
        self.destination = destination
        self.seq = 0
        self.counter = 0

    def finish(self, service, subtype, data_len, days, ms):
        n = TM_HEADER + data_len
        struct.pack_into(
            _TM_FMT, self.buf, 0,
            _SEC_HDR | self.apid, _UNSEGMENTED | self.seq, n + CRC_LEN - 7,
            _PUS_C, service, subtype, self.counter, self.destination,
            _CDS_PFIELD, days, ms,
        )
        self.seq = (self.seq + 1) & _SEQ_MASK
        self.counter = (self.counter + 1) & 0xFFFF
        struct.pack_into(">H", self.buf, n, crc16(self.buf, n))
        return n + CRC_LEN


class Tc:
    """The header of a received telecommand; ``parse`` refills it in place."""

    def __init__(self):
        self.apid = self.seq = self.ack = self.service = self.subtype = 0
        self.source = self.request_id = self.data_len = 0

    def parse(self, buf, n):
        """Check ``buf[:n]`` (CRC already verified) is a PUS-C TC; False if not."""
        if n < TC_HEADER + CRC_LEN:
            return False
        pid, psc, plen, ver, svc, sub, src = struct.unpack_from(_TC_FMT, buf, 0)
        if pid & 0xF800 != _TYPE_TC | _SEC_HDR or plen != n - 7 or ver & 0xF0 != _PUS_C:
            return False
        self.apid = pid & 0x7FF
        self.seq = psc & _SEQ_MASK
        self.ack = ver & 0xF
        self.service = svc
        self.subtype = sub
        self.source = src
        self.request_id = (pid << 16) | psc
        self.data_len = n - TC_HEADER - CRC_LEN
        return True


def encode_tc(service, subtype, data=b"", seq=0, ack=ACK_ALL, apid=APID, source=GROUND_ID):
    """A whole telecommand packet (bytes); ground side and tests."""
    n = TC_HEADER + len(data)
    buf = bytearray(n + CRC_LEN)
    struct.pack_into(
        _TC_FMT, buf, 0, _TYPE_TC | _SEC_HDR | apid, _UNSEGMENTED | (seq & _SEQ_MASK),
        n + CRC_LEN - 7, _PUS_C | ack, service, subtype, source,
    )
    buf[TC_HEADER:n] = data
    struct.pack_into(">H", buf, n, crc16(buf, n))
    return bytes(buf)


class Tm:
    """A decoded telemetry packet (ground side)."""

    __slots__ = ("apid", "seq", "service", "subtype", "counter", "destination", "days", "ms", "data")

    def __init__(self, apid, seq, service, subtype, counter, destination, days, ms, data):
        self.apid = apid
        self.seq = seq
        self.service = service
        self.subtype = subtype
        self.counter = counter
        self.destination = destination
        self.days = days
        self.ms = ms
        self.data = data

    def __eq__(self, other):
        return isinstance(other, Tm) and all(getattr(self, k) == getattr(other, k) for k in Tm.__slots__)

    def __repr__(self):
        return "Tm(apid=0x%03X, seq=%d, [%d,%d], counter=%d, dest=%d, time=%d:%d, data=%s)" % (
            self.apid, self.seq, self.service, self.subtype, self.counter, self.destination,
            self.days, self.ms, bytes(self.data).hex())


def decode_tm(buf, n):
    """The Tm in ``buf[:n]`` (CRC already verified), or None if it is not a PUS-C TM."""
    if n < _TM_MIN:
        return None
    pid, psc, plen, ver, svc, sub, cnt, dst, pf, days, ms = _unpack_from(_TM_FMT, buf, 0)
    if pid >> 11 != 1 or plen != n - 7 or ver >> 4 != 2 or pf != 0x40:  # TM, PUS-C, CDS short
        return None
    return Tm(pid & 0x7FF, psc & 0x3FFF, svc, sub, cnt, dst, days, ms, buf[20:n - 2])  # a slice: a copy
