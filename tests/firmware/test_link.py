"""Link layer (packet.py, framing.py) on both runtimes: CPython (pytest) and MicroPython.

Plain asserts only: tests/mp_runner.py runs this file under the unix port too.
"""

import struct
import sys

from firmware import framing, packet
from firmware.tables import APID

_MICROPYTHON = sys.implementation.name == "micropython"


def _tc(seq=5, data=b"\x01\x02"):
    return packet.encode_tc(8, 1, data, seq=seq)


class _Sink:
    """Collects what the deframer hands over, parsed as telecommands."""

    def __init__(self):
        self.packets = []
        self.tc = packet.Tc()

    def __call__(self, buf, n):
        if not self.tc.parse(buf, n):
            return False
        self.packets.append(bytes(buf[:n]))
        return True


def _deframe(*chunks):
    d = framing.Deframer()
    sink = _Sink()
    for c in chunks:
        d.feed(c, sink)
    return d, sink.packets


def test_crc16_check_value_is_0x29b1():
    assert packet.crc16(b"123456789", 9) == 0x29B1
    assert packet.crc16_py(b"123456789", 9) == 0x29B1


def test_crc16_covers_only_the_first_n_bytes():
    assert packet.crc16(b"123456789XYZ", 9) == 0x29B1


def test_tc_encoding_matches_the_ccsds_pus_c_layout():
    tc = packet.encode_tc(17, 1, b"", seq=5, source=7)
    assert tc[:2] == struct.pack(">H", 0x1800 | APID)  # TC, secondary header, APID
    assert tc[2:4] == b"\xc0\x05"  # unsegmented, sequence count 5
    assert tc[4:6] == b"\x00\x06"  # 13 bytes - 7
    assert tc[6:11] == b"\x2f\x11\x01\x00\x07"  # PUS-C, all acks, [17,1], source 7
    assert packet.crc16(tc, len(tc)) == 0  # a trailing CRC leaves a zero residue


def test_tc_parse_reads_every_header_field_and_the_request_id():
    raw = packet.encode_tc(20, 3, b"\x00\x01\x00\x00\x00\x3c", seq=0x3FFF, ack=0b1001, source=2)
    tc = packet.Tc()
    assert tc.parse(raw, len(raw))
    assert (tc.apid, tc.seq, tc.ack, tc.service, tc.subtype, tc.source, tc.data_len) == (
        APID, 0x3FFF, 0b1001, 20, 3, 2, 6)
    assert tc.request_id == struct.unpack(">I", raw[:4])[0]


def test_tc_parse_refuses_telemetry_short_packets_and_wrong_lengths():
    w = packet.TmWriter()
    n = w.finish(17, 2, 0, 0, 0)
    tc = packet.Tc()
    assert not tc.parse(w.buf, n)  # a TM is not a TC
    assert not tc.parse(b"\x18\xc1\xc0\x00\x00", 5)
    raw = bytearray(_tc())
    raw[5] += 1  # length field disagrees with the frame
    assert not tc.parse(raw, len(raw))


def test_tm_round_trip_keeps_header_time_and_data():
    w = packet.TmWriter()
    struct.pack_into(">HB", w.buf, packet.TM_HEADER, 0xBEEF, 7)
    n = w.finish(3, 25, 3, 24000, 86399999)
    tm = packet.decode_tm(w.buf, n)
    assert tm is not None
    assert (tm.apid, tm.seq, tm.service, tm.subtype, tm.counter, tm.days, tm.ms) == (
        APID, 0, 3, 25, 0, 24000, 86399999)
    assert tm.data == b"\xbe\xef\x07"


def test_tm_sequence_count_wraps_at_14_bits():
    w = packet.TmWriter()
    w.seq = 0x3FFF
    w.finish(17, 2, 0, 0, 0)
    assert w.seq == 0
    assert packet.decode_tm(w.buf, packet.TM_HEADER + 2).seq == 0x3FFF


def test_cobs_frame_has_no_zero_before_its_delimiter():
    f = framing.frame(b"\x00\x01\x00\x00\x02")
    assert f[-1] == 0
    assert 0 not in f[:-1]


def test_cobs_encode_into_and_decode_into_are_inverse_at_block_boundaries():
    for size in (0, 1, 2, 253, 254, framing.MAX_PACKET):
        data = bytes((i % 255) + 1 for i in range(size))
        dst = bytearray(size + size // 254 + 2)  # COBS overhead and the delimiter
        m = framing.encode_into(data, size, dst)
        out = bytearray(size)
        assert framing.decode_into(dst, m - 1, out) == size
        assert bytes(out[:size]) == data


def test_cobs_decode_refuses_a_code_running_past_the_end():
    assert framing.decode_into(b"\x05\x01\x02", 3, bytearray(10)) == -1
    assert framing.decode_into(b"\x00\x01", 2, bytearray(10)) == -1


def test_deframer_yields_back_to_back_frames_in_one_chunk():
    a, b = _tc(1), _tc(2)
    d, got = _deframe(framing.frame(a) + framing.frame(b))
    assert got == [a, b]
    assert d.frames == 2


def test_deframer_reassembles_a_frame_split_across_many_chunks():
    a = _tc(3, bytes(range(40)))
    f = framing.frame(a)
    d, got = _deframe(*[f[i:i + 3] for i in range(0, len(f), 3)])
    assert got == [a]


def test_deframer_drops_junk_and_resynchronises_at_the_next_delimiter():
    a = _tc(4)
    d, got = _deframe(b"\xff\xfe junk", b"\x00" + framing.frame(a))
    assert got == [a]
    assert d.undecodable == 1


def test_deframer_counts_a_bit_flip_as_a_crc_error():
    a = _tc(5)
    raw = bytearray(a)
    raw[8] ^= 0x10
    d, got = _deframe(framing.frame(bytes(raw)) + framing.frame(a))
    assert got == [a]
    assert (d.crc_errors, d.undecodable) == (1, 0)


def test_deframer_counts_a_truncated_frame_and_keeps_the_next():
    a, b = _tc(6), _tc(7)
    d, got = _deframe(framing.frame(a)[:9] + b"\x00" + framing.frame(b))
    assert got == [b]
    assert d.crc_errors + d.undecodable == 1


def test_deframer_drops_an_oversized_frame_in_pieces_with_bounded_memory():
    a = _tc(8)
    d = framing.Deframer()
    sink = _Sink()
    for _ in range(50):
        d.feed(b"\x01" * 100, sink)  # 5,000 bytes without a delimiter
    d.feed(b"\x00" + framing.frame(a), sink)
    assert sink.packets == [a]
    assert d.oversize == 1
    assert len(d._frame) == framing.MAX_FRAME


def test_deframer_drops_an_oversized_frame_arriving_in_one_chunk():
    d, got = _deframe(b"\x01" * (framing.MAX_FRAME + 1) + b"\x00" + framing.frame(_tc(9)))
    assert len(got) == 1
    assert d.oversize == 1


def test_deframer_counts_packets_the_handler_refuses_as_undecodable():
    w = packet.TmWriter()
    n = w.finish(17, 2, 0, 0, 0)
    d, got = _deframe(framing.frame(bytes(w.buf[:n])))
    assert got == []
    assert d.undecodable == 1


def test_deframer_ignores_idle_delimiters():
    d, got = _deframe(b"\x00\x00\x00", framing.frame(_tc()), b"\x00\x00")
    assert len(got) == 1
    assert (d.crc_errors, d.oversize, d.undecodable) == (0, 0, 0)


def test_deframer_feed_honours_the_length_argument():
    a = _tc(10)
    buf = bytearray(framing.frame(a) + b"\x05\x05\x05")
    d = framing.Deframer()
    sink = _Sink()
    d.feed(buf, sink, len(buf) - 3)
    assert sink.packets == [a]
    assert d._n == 0


def test_tm_encoding_allocates_nothing_per_packet_once_warm():
    if not _MICROPYTHON:
        return  # gc.mem_alloc exists only on MicroPython
    import gc

    w = packet.TmWriter()
    frame = bytearray(framing.MAX_FRAME + 1)
    fmt = ">BBBBBHI"

    def encode(i):
        struct.pack_into(fmt, w.buf, packet.TM_HEADER, 1, 2, 3, 4, 5, i & 0xFFFF, 123456)
        n = w.finish(3, 25, 11, 100, i)
        return framing.encode_into(w.buf, n, frame)

    encode(0)
    gc.collect()
    before = gc.mem_alloc()
    for i in range(1000):
        encode(i)
    assert gc.mem_alloc() - before == 0
