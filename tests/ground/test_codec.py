"""The dictionary-driven codec: every command encodes, every report decodes, junk never raises."""

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st
from spacepackets.ecss import PusTc

from firmware import dictionary as d
from firmware import packet
from ground import codec
from ground.errors import UsageError

SIMPLE = [c for c in d.COMMANDS if all(f[1] != "tc" for f in c[5])]


def _in_range(f):
    return st.integers(f[3], f[4])


@st.composite
def command_and_args(draw):
    entry = draw(st.sampled_from(SIMPLE))
    args = [draw(_in_range(f)) for f in entry[5]]
    if entry[0] == "PARAM_SET":  # the value must suit the parameter
        p = d.parameter(args[0])
        args[1] = draw(st.integers(p[3], p[4]))
    return entry, args


@given(command_and_args(), st.integers(0, 0x3FFF))
def test_every_command_encodes_as_spacepackets_reads_it(case, seq):
    entry, args = case
    tc = codec.build(entry[0], args, lambda: seq)
    oracle = PusTc.unpack(tc.packet)
    assert (oracle.apid, oracle.service, oracle.message_subtype, oracle.seq_count) == (d.APID, entry[1], entry[2], seq)
    fid = struct.pack(">H", entry[3]) if entry[3] else b""
    assert oracle.app_data == fid + struct.pack(d.fmt(entry[5]), *args)
    assert codec.describe_tc(tc.packet) == " ".join([entry[0]] + [str(a) for a in args])
    assert tc.hazardous == entry[4] and tc.seq == seq


@pytest.mark.parametrize("entry", [c for c in d.COMMANDS if c[5] and all(f[1] != "tc" for f in c[5])],
                         ids=lambda c: c[0])
def test_arguments_outside_the_dictionary_range_are_refused_by_name(entry):
    f = entry[5][0]
    args = [g[3] for g in entry[5]]
    args[0] = f[4] + 1
    with pytest.raises(UsageError, match="%s: %s=%d is outside" % (entry[0], f[0], f[4] + 1)):
        codec.build(entry[0], args, lambda: 0)


def test_parameters_can_be_named_and_a_nested_command_is_encoded_whole():
    assert codec.build("param_get", ["burn_max"], lambda: 0).args == (d.P_BURN_MAX,)
    tc = codec.build("SCHED_INSERT", ["30000", "0", "FIRE", "4"], iter(range(10)).__next__)
    assert tc.hazardous and str(tc) == "SCHED_INSERT 30000 0 [FIRE 4]"
    assert codec.describe_tc(tc.packet) == "SCHED_INSERT 30000 0 [FIRE 4]"


def _tm(service, subtype, data, days=0, ms=0):
    w = packet.TmWriter()
    w.buf[packet.TM_HEADER:packet.TM_HEADER + len(data)] = data
    return bytes(w.buf[:w.finish(service, subtype, len(data), days, ms)])


@given(st.lists(st.integers(0, 0xFF), min_size=len(d.HK_FIELDS), max_size=len(d.HK_FIELDS)))
def test_housekeeping_decodes_to_named_fields_with_limit_flags(small):
    values = [min(v, 2 ** (8 * struct.calcsize(f[1])) - 1) if f[1] != "h" else v - 128
              for v, f in zip(small, d.HK_FIELDS, strict=True)]
    rec = codec.decode(_tm(3, 25, struct.pack(d.fmt(d.HK_FIELDS), *values)))
    assert rec.name == "HK" and rec.error is None
    assert list(rec.values.values()) == values
    assert rec.violations() == [f[0] for f, v in zip(d.HK_FIELDS, values, strict=True) if codec.out_of_limits(f, v)]
    assert str(rec)  # renders every value, enum out of range included


def test_an_invalid_temperature_reads_invalid_and_is_flagged():
    values = [0] * len(d.HK_FIELDS)
    values[[f[0] for f in d.HK_FIELDS].index("temperature")] = d.TEMP_INVALID
    rec = codec.decode(_tm(3, 25, struct.pack(d.fmt(d.HK_FIELDS), *values)))
    assert "temperature=INVALID !LIMIT" in str(rec)


@pytest.mark.parametrize("event", d.EVENTS, ids=lambda e: e[1])
def test_every_event_decodes_with_its_name_severity_and_fields(event):
    values = [1] * len(event[3])
    rec = codec.decode(_tm(5, event[2], struct.pack(">H" + d.fmt(event[3])[1:], event[0], *values)))
    assert (rec.event, rec.severity, rec.error) == (event[1], d.SEVERITIES[event[2] - 1], None)
    assert rec.values == {f[0]: 1 for f in event[3]}


@given(st.sampled_from([(t[1], t[2]) for t in d.TELEMETRY] + [(99, 1), (5, 1)]), st.binary(max_size=80))
def test_decode_never_raises_on_any_data(kind, data):
    rec = codec.decode(_tm(kind[0], kind[1], data))
    assert rec is not None and str(rec) and rec.to_json()


def test_failure_reports_name_the_failure_in_words():
    rec = codec.decode(_tm(1, 8, struct.pack(">IHH", 0x18C1C001, d.NOT_CONFIRMED, 0)))
    assert str(rec) == ("T+0.000s COMPLETION_FAILED request_id=0x18C1C001 code=NOT_CONFIRMED data=0 "
                        "(no release confirmed after the last permitted burn)")


def test_correlated_time_is_shown_in_utc():
    assert codec.format_obt(24800, 3723004) == "2025-11-25T01:02:03.004Z"
    assert codec.format_obt(0, 5000) == "T+5.000s"
