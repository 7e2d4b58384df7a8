"""docs/payload.xtce.xml, read by tools that are not ours, means what the dictionary means.

Telemetry: space-packet-parser (LASP's XTCE decoder) loads the export and decodes a full
pass of the payload's telemetry (tests/ground/sim_pass.py); every field it finds must
equal what ground.codec finds, raw and in engineering terms, with the same fields out of
limits. Commands: no independent XTCE encoder exists, so the MetaCommand layouts are
encoded here straight from the XML and compared with ground.codec.build byte for byte.
"""

import struct
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import space_packet_parser as spp
from space_packet_parser.xtce.definitions import XtcePacketDefinition

from firmware import dictionary as d
from firmware import packet
from ground import codec, xtce
from tests.ground.sim_pass import rig_pass, sim_pass

EXPORT = Path(__file__).resolve().parents[2] / "docs" / "payload.xtce.xml"
NS = {"x": xtce.NAMESPACE}
# Events the sim cannot cause, and KEY_CHANGED, which needs a key (sim_pass.py).
RIG_ONLY = {"RECORD_CORRUPT", "STORAGE_ERROR", "HW_CUTOFF", "SENSOR_INVALID", "KEY_CHANGED"}


@pytest.fixture(scope="module")
def definition():
    return XtcePacketDefinition.from_xtce(EXPORT, root_container_name=xtce.ROOT)


@pytest.fixture(scope="module")
def tree():
    return ET.parse(EXPORT).getroot()


@pytest.fixture(scope="module")
def sim_packets(tmp_path_factory):
    return sim_pass(tmp_path_factory.mktemp("flash"))


@pytest.fixture(scope="module")
def rig_packets():
    return rig_pass()


def _expected(raw):
    """What a decoder of the export must find in ``raw``, by parameter name, from the codec."""
    rec = codec.decode(raw)
    tm = packet.decode_tm(raw, len(raw))
    assert rec is not None and not rec.error, rec
    pid, psc, plen = struct.unpack_from(">HHH", raw)
    values = {"ccsds_version": pid >> 13, "ccsds_type": pid >> 12 & 1, "ccsds_sec_hdr": pid >> 11 & 1,
              "ccsds_apid": tm.apid, "ccsds_seq_flags": psc >> 14, "ccsds_seq_count": tm.seq, "ccsds_length": plen,
              "pus_version": raw[6] >> 4, "pus_time_status": raw[6] & 0xF, "pus_service": tm.service,
              "pus_subtype": tm.subtype, "pus_counter": tm.counter, "pus_destination": tm.destination,
              "cds_pfield": raw[13], "obt_days": tm.days, "obt_ms": tm.ms,
              xtce.CRC: struct.unpack_from(">H", raw, len(raw) - packet.CRC_LEN)[0]}
    fields = {}  # parameter name -> (Field, raw value, the record's values)
    if rec.event:
        values[xtce.EVENT_ID] = next(e.id for e in d.EVENTS if e.name == rec.event)
    prefix = rec.event or rec.name
    for f in rec.layout:
        if f.code == "*":
            star = rec.layout.index(f)
            for i, entry in enumerate(rec.values[f.name], 1):
                fields.update({"%s_%d_%s" % (rec.name, i, g.name): (g, entry[g.name], entry)
                               for g in rec.layout[star + 1:]})
            break
        fields["%s_%s" % (prefix, f.name)] = (f, rec.values[f.name], rec.values)
    values.update({name: v for name, (_f, v, _r) in fields.items()})
    return rec, values, fields


def _decoded(definition, raw):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. bits left over: the layout did not cover the packet
        return definition.parse_bytes(raw)


def _warning_ranges(tree):
    """Parameter type name -> (min, max) of its warning range, None where a side has no limit."""
    ranges = {}
    for t in tree.iterfind("x:TelemetryMetaData/x:ParameterTypeSet/*", NS):
        r = t.find("x:DefaultAlarm/x:StaticAlarmRanges/x:WarningRange", NS)
        if r is not None:
            ranges[t.get("name")] = tuple(float(r.get(k)) if r.get(k) else None for k in ("minInclusive",
                                                                                           "maxInclusive"))
    return ranges


def _check_packet(definition, ranges, raw):
    """One packet: the same fields, raw values, engineering values and limit violations."""
    rec, values, fields = _expected(raw)
    got = _decoded(definition, raw)
    assert {k: getattr(v, "raw_value", v) for k, v in got.items()} == values, rec
    for name, (f, value, record) in fields.items():
        factor, _unit, _decimals = codec.scaling(f)
        if f.names is not None and f.names.kind == d.ENUM:
            assert got[name] == f.names.text(value, record), name
        else:
            assert got[name] == pytest.approx(value * factor), name
    crossed = set()
    for name, (lo, hi) in ranges.items():
        if name in got and ((lo is not None and got[name] < lo) or (hi is not None and got[name] > hi)):
            crossed.add(name.removeprefix((rec.event or rec.name) + "_"))
    assert crossed == set(rec.violations()), rec
    return rec


def test_export_is_valid_against_the_xtce_1_2_schema():
    result = spp.validate_xtce(EXPORT, level="schema", print_results=False, raise_on_error=False,
                               allow_schema_download=False)
    assert result.valid, [str(e) for e in result.errors]
    assert result.schema_version == "1.2"


@pytest.mark.slow
def test_a_sim_pass_decodes_the_same_in_space_packet_parser_and_the_codec(definition, tree, sim_packets):
    ranges = _warning_ranges(tree)
    seen = {(rec.event or rec.name) for rec in (_check_packet(definition, ranges, raw) for raw in sim_packets)}
    every = {t.name for t in d.TELEMETRY if t.service != d.SVC_EVENT} | {e.name for e in d.EVENTS}
    assert every - seen == RIG_ONLY


def test_events_and_limits_the_sim_cannot_cause_decode_the_same(definition, tree, rig_packets):
    ranges = _warning_ranges(tree)
    records = [_check_packet(definition, ranges, raw) for raw in rig_packets]
    assert {rec.event for rec in records} >= RIG_ONLY
    crossed = {(f.name, "high" if f.hi is not None and rec.values[f.name] > f.hi else "low")
               for rec in records for f in rec.layout if f.name in rec.violations()}
    assert {("temperature", "high"), ("temperature", "low"), ("heap_free", "low")} <= crossed


@pytest.mark.slow
def test_schedule_reports_of_several_record_counts_are_told_apart_by_length(definition, sim_packets):
    counts = {len(rec.values["entry"]) for rec in map(codec.decode, sim_packets) if rec.name == "SCHEDULE"}
    assert {0, 1, 2} <= counts  # each decoded field by field in the test above


def test_crc_the_export_describes_is_the_packet_error_control(tree, rig_packets):
    crc = tree.find("x:TelemetryMetaData/x:ParameterTypeSet/*[@name='%s']//x:CRC" % xtce.CRC, NS)
    poly, init, final = (int(crc.find("x:" + k, NS).text, 16) for k in ("Polynomial", "InitRemainder", "FinalXOR"))
    assert (crc.get("width"), crc.get("reflectData"), crc.get("reflectRemainder")) == ("16", "false", "false")

    def described(data):
        c = init
        for byte in data:
            c ^= byte << 8
            for _ in range(8):
                c = (c << 1 ^ poly if c & 0x8000 else c << 1) & 0xFFFF
        return c ^ final

    assert described(b"123456789") == 0x29B1  # CRC-16/CCITT-FALSE's check value
    for raw in rig_packets:
        assert described(raw[:-2]) == int.from_bytes(raw[-2:], "big")


def _fields_by_parameter():
    """(parameter name in the export, Field) of every telemetry field; a repeated record's first."""
    for t in d.TELEMETRY:
        star = next((i for i, f in enumerate(t.fields) if f.code == "*"), len(t.fields))
        yield from (("%s_%s" % (t.name, f.name), f) for f in t.fields[:star])
        yield from (("%s_1_%s" % (t.name, f.name), f) for f in t.fields[star + 1:])
    for e in d.EVENTS:
        yield from (("%s_%s" % (e.name, f.name), f) for f in e.fields)


def test_every_telemetry_field_is_a_parameter_of_the_export_in_the_dictionarys_unit(definition):
    for name, f in _fields_by_parameter():
        assert (definition.parameters[name].parameter_type.unit or "") == codec.scaling(f)[1], name


# --- commands: the XTCE layouts, encoded here, against ground.codec.build ---------------


class _Commands:
    """Encodes a MetaCommand from the export's XML alone: entries of its base first."""

    def __init__(self, tree):
        meta = tree.find("x:CommandMetaData", NS)
        self.types = {t.get("name"): t for t in meta.find("x:ArgumentTypeSet", NS)}
        self.commands = {c.get("name"): c for c in meta.find("x:MetaCommandSet", NS)}

    def arguments(self, name):
        """(argument name, its type element) of command ``name``, its own only."""
        args = self.commands[name].find("x:ArgumentList", NS)
        return [(a.get("name"), self.types[a.get("argumentTypeRef")]) for a in (args if args is not None else ())]

    def _chain(self, name, values):
        c = self.commands[name]
        base = c.find("x:BaseMetaCommand", NS)
        for a in c.iterfind("x:BaseMetaCommand/x:ArgumentAssignmentList/x:ArgumentAssignment", NS):
            values.setdefault(a.get("argumentName"), a.get("argumentValue"))
        for a in c.iterfind("x:ArgumentList/x:Argument", NS):
            if a.get("initialValue") is not None:
                values.setdefault(a.get("name"), a.get("initialValue"))
        chain = self._chain(base.get("metaCommandRef"), values) if base is not None else []
        return chain + [(self.arguments(name), c.find("x:CommandContainer/x:EntryList", NS))]

    def encode(self, name, values):
        """The packet as the link sends it: sequence count and length set, CRC appended."""
        values = dict(values)
        bits, n = 0, 0
        for args, entries in self._chain(name, values):
            types = dict(args)
            for e in entries:
                if e.tag.endswith("FixedValueEntry"):
                    size, value = int(e.get("sizeInBits")), int(e.get("binaryValue"), 16)
                else:
                    arg = e.get("argumentRef")
                    size, value = self._encode_value(types[arg], values[arg])
                bits, n = bits << size | value, n + size
        assert n % 8 == 0
        return bytearray(bits.to_bytes(n // 8, "big"))

    @staticmethod
    def _encode_value(t, value):
        if t.tag.endswith("BinaryArgumentType"):
            assert t.find("x:BinaryDataEncoding/x:SizeInBits/x:FixedValue", NS).text == "-1"  # all of it
            return 8 * len(value), int.from_bytes(value, "big")
        if t.tag.endswith("EnumeratedArgumentType") and not str(value).lstrip("-").isdigit():
            value = next(e.get("value") for e in t.iterfind("x:EnumerationList/x:Enumeration", NS)
                         if e.get("label") == value)
        enc = t.find("x:IntegerDataEncoding", NS)
        size, value = int(enc.get("sizeInBits")), int(value)
        return size, value & ((1 << size) - 1)


def _link(raw, seq):
    """What the link adds: the sequence count, the packet length, the CRC."""
    raw[2:4] = (0xC000 | seq).to_bytes(2, "big")
    raw[4:6] = (len(raw) + packet.CRC_LEN - 7).to_bytes(2, "big")
    return bytes(raw) + packet.crc16(raw, len(raw)).to_bytes(2, "big")


def _samples(f):
    """(as ground.codec.build takes it, as the XTCE argument holds it) at each end of the range."""
    if f.code == "tc":
        nested = codec.build("PING", [], lambda: 7), codec.build("FIRE_SEQUENCE", ["1,2", 30], lambda: 8)
        return [(tc, tc.packet) for tc in nested]
    if f.names is not None and f.names.kind == d.BITS:
        return [("1,2", 0b11), (",".join(f.names.names), (1 << len(f.names.names)) - 1)]
    if f.names is not None and f.names.kind == d.ENUM:
        return [(f.names.names[0], f.names.names[0]), (f.names.names[-1], f.names.names[-1])]
    return [(f.lo, f.lo), (f.hi, f.hi)]


@pytest.mark.parametrize("c", d.COMMANDS, ids=lambda c: c.name)
def test_command_layout_in_the_export_encodes_as_codec_build_byte_for_byte(tree, c):
    commands = _Commands(tree)
    assert [a for a, _t in commands.arguments(c.name)] == [f.name for f in c.args]
    for end in (0, 1):
        samples = [_samples(f)[end] for f in c.args]
        if c.name == "PARAM_SET":  # the value must suit the parameter named
            p = d.parameter(d.PARAMETER_NAMES.value_of(samples[0][0]))
            samples[1] = ((p.lo, p.hi)[end],) * 2
        ours = codec.build(c.name, [typed for typed, _held in samples], lambda: 42).packet
        theirs = _link(commands.encode(c.name, {f.name: held for f, (_t, held) in zip(c.args, samples,
                                                                                        strict=True)}), 42)
        assert theirs == ours, c.name


@pytest.mark.parametrize("c", [c for c in d.COMMANDS if c.args], ids=lambda c: c.name)
def test_argument_ranges_and_names_in_the_export_are_the_dictionarys(tree, c):
    commands = _Commands(tree)
    for (name, t), f in zip(commands.arguments(c.name), c.args, strict=True):
        r = t.find("x:ValidRangeSet/x:ValidRange", NS)
        if t.tag.endswith("EnumeratedArgumentType"):
            labels = [e.get("label") for e in t.iterfind("x:EnumerationList/x:Enumeration", NS)]
            assert labels == list(f.names.names), name
        elif r is not None:
            assert (int(r.get("minInclusive")), int(r.get("maxInclusive"))) == (f.lo, f.hi), name
