"""Property tests of the link layer (CPython): reference libraries, every packet kind,
spacepackets interoperability, and the same vectors decoded under MicroPython."""

import json
import struct
import subprocess
import sys
from pathlib import Path

import crcmod.predefined
from cobs import cobs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from spacepackets.ecss import PusTc, PusTm

from firmware import dictionary, framing, packet
from tests.firmware import decode_vectors

ROOT = Path(__file__).resolve().parent.parent
MICROPYTHON = Path(sys.executable).parent / "micropython"
_crcmod = crcmod.predefined.mkPredefinedCrcFun("crc-ccitt-false")
_RANGES = {"B": (0, 0xFF), "H": (0, 0xFFFF), "I": (0, 0xFFFFFFFF), "h": (-0x8000, 0x7FFF)}
packets = st.binary(max_size=framing.MAX_PACKET)


def _value(field):
    """Boundary values first (the dictionary range, else the type's), then anything in range."""
    tlo, thi = _RANGES[field.code]
    lo = tlo if field.lo is None else field.lo
    hi = thi if field.hi is None else field.hi
    return st.sampled_from((lo, hi)) | st.integers(lo, hi)


def _fixed(fields):
    return [f for f in fields if f.code not in ("tc", "*")]


@st.composite
def tc_data(draw):
    """A command from the dictionary with boundary or random arguments, as TC fields."""
    c = draw(st.sampled_from(dictionary.COMMANDS))
    fixed = _fixed(c.args)
    data = struct.pack(dictionary.fmt(fixed), *[draw(_value(f)) for f in fixed])
    if c.function:
        data = struct.pack(">H", c.function) + data
    if len(fixed) != len(c.args):  # an embedded telecommand (SCHED_INSERT)
        data += packet.encode_tc(17, 1, seq=draw(st.integers(0, 0x3FFF)))
    return c.service, c.subtype, data


@st.composite
def tm_data(draw):
    """A telemetry packet kind from the dictionary with boundary or random field values."""
    t = draw(st.sampled_from(dictionary.TELEMETRY))
    service, subtype, fields = t.service, t.subtype, t.fields
    if service == dictionary.SVC_EVENT:  # events: the id, then that event's fields
        e = draw(st.sampled_from(dictionary.EVENTS))
        data = struct.pack(">H" + dictionary.fmt(e.fields)[1:], e.id, *[draw(_value(f)) for f in e.fields])
        return service, e.severity, data
    fixed = _fixed(fields)
    if len(fixed) != len(fields):  # a header, then repeated records
        star = [f.code for f in fields].index("*")
        head, rec = fields[:star], fields[star + 1:]
        data = struct.pack(dictionary.fmt(head), *[draw(_value(f)) for f in head])
        for _ in range(draw(st.integers(0, dictionary.SCHEDULE_SIZE))):
            data += struct.pack(dictionary.fmt(rec), *[draw(_value(f)) for f in rec])
        return service, subtype, data
    return service, subtype, struct.pack(dictionary.fmt(fixed), *[draw(_value(f)) for f in fixed])


seqs = st.sampled_from((0, 1, 0x3FFF)) | st.integers(0, 0x3FFF)
days = st.sampled_from((0, 0xFFFF)) | st.integers(0, 0xFFFF)
millis = st.sampled_from((0, 86399999)) | st.integers(0, 86399999)


def _write_tm(service, subtype, data, seq, d, ms):
    w = packet.TmWriter()
    w.seq = seq
    w.buf[packet.TM_HEADER:packet.TM_HEADER + len(data)] = data
    n = w.finish(service, subtype, len(data), d, ms)
    return bytes(w.buf[:n])


def _deframe(stream):
    d = framing.Deframer()
    got = []
    tc = packet.Tc()

    def handler(buf, n):
        if not tc.parse(buf, n):
            return False
        got.append(bytes(buf[:n]))
        return True

    d.feed(stream, handler)
    return d, got


@given(st.binary(max_size=600))
def test_crc16_agrees_with_crcmod(data):
    assert packet.crc16_py(data, len(data)) == _crcmod(data)
    assert packet.crc16(data, len(data)) == _crcmod(data)


@given(packets)
def test_cobs_encoding_agrees_with_the_cobs_package(data):
    dst = bytearray(framing.MAX_FRAME + 1)
    m = framing.encode_into(data, len(data), dst)
    assert bytes(dst[:m]) == cobs.encode(data) + b"\x00" == framing.frame(data)


@given(packets)
def test_cobs_decoding_agrees_with_the_cobs_package(data):
    encoded = cobs.encode(data)
    out = bytearray(framing.MAX_FRAME)
    assert bytes(out[:framing.decode_into(encoded, len(encoded), out)]) == data


@given(st.binary(max_size=300).filter(lambda b: 0 not in b))
def test_cobs_decoder_accepts_exactly_what_the_cobs_package_accepts(junk):
    try:
        expected = cobs.decode(junk)
    except cobs.DecodeError:
        expected = None
    out = bytearray(len(junk))
    n = framing.decode_into(junk, len(junk), out)
    assert (None if n < 0 else bytes(out[:n])) == expected


@given(tc_data(), seqs, st.integers(0, 15), st.integers(0, 0xFFFF))
def test_every_command_kind_round_trips_through_the_link(kind, seq, ack, source):
    service, subtype, data = kind
    raw = packet.encode_tc(service, subtype, data, seq=seq, ack=ack, source=source)
    d, got = _deframe(framing.frame(raw))
    assert got == [raw]
    tc = packet.Tc()
    assert tc.parse(raw, len(raw))
    assert (tc.service, tc.subtype, tc.seq, tc.ack, tc.source) == (service, subtype, seq, ack, source)
    assert raw[packet.TC_HEADER:packet.TC_HEADER + tc.data_len] == data


@given(tm_data(), seqs, days, millis)
def test_every_telemetry_kind_round_trips_through_the_link(kind, seq, d, ms):
    service, subtype, data = kind
    raw = _write_tm(service, subtype, data, seq, d, ms)
    tm = packet.decode_tm(raw, len(raw))
    assert (tm.apid, tm.seq, tm.service, tm.subtype, tm.days, tm.ms, tm.data) == (
        dictionary.APID, seq, service, subtype, d, ms, data)


@given(tc_data(), seqs, st.integers(0, 0xFFFF))
def test_telecommands_packed_by_spacepackets_are_accepted(kind, seq, source):
    service, subtype, data = kind
    raw = PusTc(service=service, message_subtype=subtype, apid=dictionary.APID, seq_count=seq,
                app_data=data, source_id=source).pack()
    d, got = _deframe(framing.frame(raw))
    assert got == [raw]
    assert raw == packet.encode_tc(service, subtype, data, seq=seq, source=source)


@given(tm_data(), seqs, days, millis)
def test_every_telemetry_packet_unpacks_with_spacepackets(kind, seq, d, ms):
    service, subtype, data = kind
    raw = _write_tm(service, subtype, data, seq, d, ms)
    tm = PusTm.unpack(raw, timestamp_len=7)
    assert (tm.service, tm.message_subtype, tm.apid, tm.seq_count) == (service, subtype, dictionary.APID, seq)
    assert tm.timestamp == struct.pack(">BHI", 0x40, d, ms)
    assert tm.source_data == data
    assert tm.pus_tm_sec_header.dest_id == dictionary.GROUND_ID


_frames = st.lists(tc_data(), min_size=1, max_size=4).map(
    lambda ks: [packet.encode_tc(s, t, d, seq=i) for i, (s, t, d) in enumerate(ks)])
_junk = st.binary(min_size=1, max_size=40).filter(lambda b: 0 not in b)


@given(_frames, st.lists(_junk, max_size=4), st.integers(1, 64))
def test_deframer_yields_exactly_the_valid_packets_between_junk_in_any_chunking(frames, junk, chunk):
    stream = b""
    for i, f in enumerate(frames):
        if i < len(junk):
            stream += junk[i] + b"\x00"
        stream += framing.frame(f)
    d = framing.Deframer()
    got = []
    tc = packet.Tc()

    def handler(buf, n):
        got.append(bytes(buf[:n]))
        return tc.parse(buf, n)

    for i in range(0, len(stream), chunk):
        d.feed(stream[i:i + chunk], handler)
    assert got[-len(frames):] == frames
    assert d.frames == len(frames)
    assert d.frames + d.crc_errors + d.undecodable == len(frames) + min(len(junk), len(frames))


@given(tc_data(), st.data())
def test_a_bit_flip_never_delivers_a_changed_packet_and_the_next_frame_survives(kind, data):
    raw = packet.encode_tc(*kind)
    f = bytearray(framing.frame(raw))
    pos = data.draw(st.integers(0, len(f) - 2))
    f[pos] ^= 1 << data.draw(st.integers(0, 7))
    nxt = packet.encode_tc(17, 1, seq=99)
    d, got = _deframe(bytes(f) + framing.frame(nxt))
    assert got[-1] == nxt
    assert all(g == nxt for g in got)
    assert d.crc_errors + d.undecodable >= 1


@given(st.lists(st.binary(max_size=2000), max_size=20))
def test_deframer_memory_stays_bounded_whatever_it_is_fed(chunks):
    d = framing.Deframer()
    for c in chunks:
        d.feed(c, lambda buf, n: True)
    assert len(d._frame) == framing.MAX_FRAME and 0 <= d._n <= framing.MAX_FRAME


def _vectors():
    """Deterministic vectors of every kind, drawn once with hypothesis."""
    found = []

    @settings(max_examples=300, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(tc_data(), tm_data(), seqs, days, millis)
    def collect(tc, tm, seq, d, ms):
        found.append(("tc", framing.frame(packet.encode_tc(*tc, seq=seq)).hex()))
        found.append(("tm", framing.frame(_write_tm(*tm, seq, d, ms)).hex()))

    collect()
    return found


def test_micropython_decodes_the_same_vectors_to_the_same_values():
    frames = [f for _kind, f in _vectors()]
    script = "import sys; sys.path.insert(0, '.'); from tests.firmware import decode_vectors; decode_vectors.main()"
    run = subprocess.run([str(MICROPYTHON), "-c", script], input="\n".join(frames), cwd=ROOT,
                         capture_output=True, text=True, timeout=60, check=True)
    expected = decode_vectors.decode(frames)
    assert len(expected) == len(frames)
    assert json.loads(run.stdout) == expected


def _enum_members():
    """(field name, value) for every member of every enumeration housekeeping carries."""
    for f in dictionary.HK_FIELDS:
        if f.names is not None and f.names.kind == dictionary.ENUM:
            yield from ((f.name, value) for value, _name in f.names.pairs())


def test_every_enum_member_round_trips_in_housekeeping():
    names = [f.name for f in dictionary.HK_FIELDS]
    for field, value in _enum_members():
        values = [0] * len(names)
        values[names.index(field)] = value
        data = struct.pack(dictionary.fmt(dictionary.HK_FIELDS), *values)
        raw = _write_tm(3, 25, data, 0, 0, 0)
        decoded = packet.decode_tm(raw, len(raw)).data
        assert struct.unpack(dictionary.fmt(dictionary.HK_FIELDS), decoded) == tuple(values)
        assert PusTm.unpack(raw, timestamp_len=7).source_data == data


def test_every_failure_code_and_event_id_round_trips():
    for code in range(1, len(dictionary.FAILURES) + 1):
        raw = _write_tm(1, 2, struct.pack(">IHH", 0x18C1C000, code, 0), 0, 0, 0)
        assert struct.unpack(">IHH", packet.decode_tm(raw, len(raw)).data)[1] == code
    for e in dictionary.EVENTS:
        data = struct.pack(">H" + dictionary.fmt(e.fields)[1:], e.id, *[0] * len(e.fields))
        raw = _write_tm(5, e.severity, data, 0, 0, 0)
        tm = PusTm.unpack(raw, timestamp_len=7)
        assert (tm.message_subtype, struct.unpack_from(">H", tm.source_data)[0]) == (e.severity, e.id)
