"""The dictionary as XTCE 1.2 (OMG XTCE, CCSDS 660.0): what Yamcs and OpenC3 COSMOS load.

``python -m ground xtce`` prints docs/payload.xtce.xml (``make icd`` writes it; ``make
icd-check`` fails when it is stale). How to load it: docs/INTEROP.md.

Telemetry is a tree of containers, each chosen from its parent by restriction criteria::

    CCSDS_PACKET            primary header (abstract)
    └ PUS_TM                TM of our APID: PUS-C TM secondary header, CDS short time (abstract)
      ├ ACCEPTED ... PARAM  one per packet of the dictionary, by PUS service and subtype;
      │                     its fields, then the packet error control (crc)
      ├ EVENT_INFO ...      one per severity (PUS 5 subtype): the event id (abstract)
      │ └ BOOT ...          one per event, by event id: its fields, crc
      └ SCHEDULE            a packet with repeated records (abstract)
        └ SCHEDULE_0 ...    one per record count, by packet length: SCHEDULE_ENTRY_1..n, crc

Repeated records are containers chosen by the packet length rather than an XTCE array:
space-packet-parser, the independent decoder of tests/ground/test_xtce.py, reads no
ArrayParameterType, and no decoder we know reads a position relative to the packet end.

Parameters are named ``PACKET_field`` (``HK_temperature``, ``BURN_END_slot``): a field
name means different things in different packets. A field with names is an enumeration
(ENUM) or an integer whose description says what its bits or nibbles mean (BITS,
COUNTS); a scaled unit ("0.1 C") is a polynomial calibrator; the dictionary's limits of a
telemetry field are its warning range, those of an argument its valid range.

Commands inherit PUS_TC (primary header with APID and flags fixed, PUS-C TC secondary
header); each assigns its service and subtype, puts a PUS 8 function id first, then its
arguments. The CCSDS sequence count and length (zero here) and the trailing CRC are the
link's to fill in, as Yamcs's PUS command postprocessor does. No independent encoder
reads XTCE commands: tests/ground/test_xtce.py encodes from these layouts itself and
compares with ground.codec.build byte for byte.

Written with the standard library's ElementTree. yamcs-pymdb (the Yamcs team's generator,
on PyPI) would add a dependency to say less: it has no way to write the CRC's
ErrorDetectCorrect, and its CCSDS header helper is made of aggregate parameters, which
space-packet-parser cannot read.
"""

import struct
import xml.etree.ElementTree as ET

from firmware import dictionary as d
from firmware import packet
from ground import codec, icd

NAMESPACE = "http://www.omg.org/spec/XTCE/20180204"  # XTCE 1.2
SCHEMA = "https://www.omg.org/spec/XTCE/20180204/SpaceSystem.xsd"
SPACE_SYSTEM = "payload"
ROOT = "CCSDS_PACKET"  # where a decoder starts (Yamcs: the stream's rootContainer)
CRC = "crc"
EVENT_ID = "event_id"
_XSI = "http://www.w3.org/2001/XMLSchema-instance"
_LENGTH = "ccsds_length"
_TM_HEADER = (  # name, bits, description: firmware/packet.py draws the layout
    ("ccsds_version", 3, "CCSDS packet version number (0)"),
    ("ccsds_type", 1, "packet type: 0 telemetry, 1 telecommand"),
    ("ccsds_sec_hdr", 1, "secondary header flag (1)"),
    ("ccsds_apid", 11, "application process id"),
    ("ccsds_seq_flags", 2, "sequence flags (3: unsegmented)"),
    ("ccsds_seq_count", 14, "packet sequence count, per direction"),
    (_LENGTH, 16, "packet data length: bytes after the primary header, minus 1"),
)
_PUS_TM_HEADER = (
    ("pus_version", 4, "PUS version number (2: PUS-C)"),
    ("pus_time_status", 4, "spacecraft time reference status (0)"),
    ("pus_service", 8, "service type"),
    ("pus_subtype", 8, "message subtype"),
    ("pus_counter", 16, "message type counter (one counter for all TM)"),
    ("pus_destination", 16, "destination id (the ground)"),
    ("cds_pfield", 8, "CDS time code P-field (0x40: CDS, epoch 1958, 16-bit days, no sub-ms)"),
    ("obt_days", 16, "on-board time: days since 1958-01-01 (before TIME_SET: since boot)"),
    ("obt_ms", 32, "on-board time: milliseconds of day"),
)
_UNITS = {"obt_days": "d", "obt_ms": "ms", _LENGTH: "B"}


def _sub(parent, tag, attrib=None, text=None):
    el = ET.SubElement(parent, tag, {k: str(v) for k, v in (attrib or {}).items()})
    if text is not None:
        el.text = text
    return el


def _described(parent, tag, name, description):
    return _sub(parent, tag, {"name": name, "shortDescription": description} if description else {"name": name})


def _bits(code):
    return 8 * struct.calcsize(">" + code)


def _integer_encoding(parent, bits, signed=False):
    return _sub(parent, "IntegerDataEncoding", {"sizeInBits": bits, "encoding": "twosComplement" if signed
                                                else "unsigned"})


def _number(x):
    return ("%.6f" % x).rstrip("0").rstrip(".")


def _long_description(el, f):
    """What the names of a BITS, COUNTS or COMMAND field mean, in words (an ENUM lists them)."""
    if f.names is not None and f.names.kind != d.ENUM:
        _sub(el, "LongDescription", text="%s. %s: %s" % (f.description, f.names.title, icd.names_line(f.names)))


def _enumeration(el, f):
    if f.lo is not None or f.hi is not None:
        values = [v for v, _n in f.names.pairs()]
        if (f.lo, f.hi) != (min(values), max(values)):
            raise ValueError("%s: limits %s..%s of an enumeration must span its names" % (f.name, f.lo, f.hi))
    listed = _sub(el, "EnumerationList")
    for value, label in ((0, f.names.zero),) * bool(f.names.zero) + f.names.pairs():
        _sub(listed, "Enumeration", {"value": value, "label": label})


# --- telemetry ----------------------------------------------------------------


def _header_type(types, name, bits, description):
    el = _described(types, "IntegerParameterType", name, description)
    el.set("signed", "false")
    if name in _UNITS:
        _sub(_sub(el, "UnitSet"), "Unit", text=_UNITS[name])
    _integer_encoding(el, bits)


def _crc_type(types):
    el = _described(types, "IntegerParameterType", CRC,
                    "packet error control: CRC-16/CCITT-FALSE over every byte before it")
    el.set("signed", "false")
    crc = _sub(_sub(_integer_encoding(el, 8 * packet.CRC_LEN), "ErrorDetectCorrect"), "CRC",
               {"width": 16, "reflectData": "false", "reflectRemainder": "false", "bitsFromReference": 0,
                "reference": "start"})
    _sub(crc, "Polynomial", text="1021")
    _sub(crc, "InitRemainder", text="FFFF")
    _sub(crc, "FinalXOR", text="0000")


def _field_type(types, name, f):
    """The parameter type of telemetry field ``f``: an enumeration, a scaled float or an integer."""
    factor, unit, decimals = codec.scaling(f)
    bits, signed = _bits(f.code), f.code.islower()
    if f.names is not None and f.names.kind == d.ENUM:
        el = _described(types, "EnumeratedParameterType", name, f.description)
        _integer_encoding(el, bits, signed)
        _enumeration(el, f)
        return
    scaled = factor != 1
    el = _described(types, "FloatParameterType" if scaled else "IntegerParameterType", name, f.description)
    _long_description(el, f)
    if not scaled:
        el.set("signed", "true" if signed else "false")
        el.set("sizeInBits", "64" if bits > 32 else "32")
    if unit:
        _sub(_sub(el, "UnitSet"), "Unit", text=unit)
    encoding = _integer_encoding(el, bits, signed)
    if scaled:
        poly = _sub(_sub(encoding, "DefaultCalibrator"), "PolynomialCalibrator")
        _sub(poly, "Term", {"coefficient": _number(factor), "exponent": 1})
    if f.lo is not None or f.hi is not None:
        limits = {k: _number(round(v * factor, decimals)) for k, v in (("minInclusive", f.lo), ("maxInclusive", f.hi))
                  if v is not None}
        _sub(_sub(_sub(el, "DefaultAlarm"), "StaticAlarmRanges"), "WarningRange", limits)


def _comparisons(parent, pairs):
    """RestrictionCriteria: every (parameter, raw value) pair holds."""
    listed = _sub(_sub(parent, "RestrictionCriteria"), "ComparisonList")
    for name, value in pairs:
        _sub(listed, "Comparison", {"parameterRef": name, "value": value, "useCalibratedValue": "false"})


class _Telemetry:
    """The TelemetryMetaData element, filled container by container."""

    def __init__(self, parent):
        tm = _sub(parent, "TelemetryMetaData")
        self.types = _sub(tm, "ParameterTypeSet")
        self.parameters = _sub(tm, "ParameterSet")
        self.containers = _sub(tm, "ContainerSet")

    def parameter(self, name, description=""):
        _described(self.parameters, "Parameter", name, description).set("parameterTypeRef", name)
        return name

    def fields(self, prefix, fields):
        """One parameter (and its type) per field; returns their names."""
        names = []
        for f in fields:
            name = "%s_%s" % (prefix, f.name)
            _field_type(self.types, name, f)
            names.append(self.parameter(name, f.description))
        return names

    def container(self, name, description, entries, base=None, criteria=(), abstract=False, refs=()):
        """A SequenceContainer: the containers ``refs``, then the parameters ``entries``."""
        el = _described(self.containers, "SequenceContainer", name, description)
        if abstract:
            el.set("abstract", "true")
        listed = _sub(el, "EntryList")
        for ref in refs:
            _sub(listed, "ContainerRefEntry", {"containerRef": ref})
        for entry in entries:
            _sub(listed, "ParameterRefEntry", {"parameterRef": entry})
        if base:
            _comparisons(_sub(el, "BaseContainer", {"containerRef": base}), criteria)


def _headers(t):
    for name, bits, description in _TM_HEADER + _PUS_TM_HEADER:
        _header_type(t.types, name, bits, description)
        t.parameter(name, description)
    _crc_type(t.types)
    t.parameter(CRC, "packet error control (CRC-16/CCITT-FALSE)")
    t.container(ROOT, "CCSDS space packet: primary header", [n for n, _b, _d in _TM_HEADER], abstract=True)
    t.container("PUS_TM", "PUS-C telemetry of the payload controller: secondary header, CDS short time",
                [n for n, _b, _d in _PUS_TM_HEADER], ROOT,
                (("ccsds_version", 0), ("ccsds_type", 0), ("ccsds_sec_hdr", 1), ("ccsds_apid", d.APID)),
                abstract=True)


def _by_type(tm):
    return (("pus_service", tm.service), ("pus_subtype", tm.subtype))


def _events(t, tm):
    """A severity's container (the event id), and one container per event of that severity."""
    t.container(tm.name, tm.description, [EVENT_ID], "PUS_TM", _by_type(tm), abstract=True)
    for e in d.EVENTS:
        if e.severity == tm.subtype:
            t.container(e.name, e.description, t.fields(e.name, e.fields) + [CRC], tm.name,
                        ((EVENT_ID, e.id),))


def _repeated(t, tm):
    """A packet whose records repeat to the end: one container per record count."""
    star = next(i for i, f in enumerate(tm.fields) if f.code == "*")
    head, record = tm.fields[:star], tm.fields[star + 1:]
    t.container(tm.name, tm.description, t.fields(tm.name, head), "PUS_TM", _by_type(tm), abstract=True)
    size, step = struct.calcsize(d.fmt(head)), struct.calcsize(d.fmt(record))
    most = (d.MAX_TM_DATA - size) // step
    entries = ["%s_ENTRY_%d" % (tm.name, i) for i in range(1, most + 1)]
    for i, entry in enumerate(entries, 1):
        t.container(entry, "%s, record %d" % (tm.fields[star].description, i),
                    t.fields("%s_%d" % (tm.name, i), record), abstract=True)
    for n in range(most + 1):
        length = packet.TM_HEADER + size + n * step + packet.CRC_LEN - 7  # the CCSDS packet data length
        t.container("%s_%d" % (tm.name, n), "%s with %d records" % (tm.name, n), [CRC], tm.name,
                    ((_LENGTH, length),), refs=entries[:n])


def _telemetry(root):
    t = _Telemetry(root)
    _headers(t)
    _sub(t.types, "EnumeratedParameterType", {"name": EVENT_ID, "shortDescription": "event id"})
    _integer_encoding(t.types[-1], 16)
    _enumeration(t.types[-1], d.Field(EVENT_ID, "H", names=d.Names("EVENTS", tuple(e.name for e in d.EVENTS),
                                                                     first=1)))
    t.parameter(EVENT_ID, "PUS 5 event id: selects the event's layout")
    for tm in d.TELEMETRY:
        if tm.service == d.SVC_EVENT:
            _events(t, tm)
        elif any(f.code == "*" for f in tm.fields):
            _repeated(t, tm)
        else:
            t.container(tm.name, tm.description, t.fields(tm.name, tm.fields) + [CRC], "PUS_TM", _by_type(tm))


# --- commands -----------------------------------------------------------------


def _fixed(parent, name, bits, value, description=""):
    el = _sub(parent, "FixedValueEntry", {"name": name, "binaryValue": "%0*X" % ((bits + 7) // 8 * 2, value),
                                           "sizeInBits": bits})
    if description:
        el.set("shortDescription", description)


def _argument_type(types, name, f):
    """The argument type of command argument ``f``: its encoding, unit, valid range or names."""
    if f.code == "tc":
        el = _described(types, "BinaryArgumentType", name, f.description)
        _sub(el, "LongDescription", text="a whole telecommand packet of this dictionary, CRC included; its "
                                         "length is its own (CCSDS length + 7). SizeInBits -1: all of the value, "
                                         "as Yamcs encodes a binary argument of no fixed size")
        _sub(_sub(_sub(el, "BinaryDataEncoding"), "SizeInBits"), "FixedValue", text="-1")
        return
    bits, signed = _bits(f.code), f.code.islower()
    if f.names is not None and f.names.kind == d.ENUM:
        el = _described(types, "EnumeratedArgumentType", name, f.description)
        _integer_encoding(el, bits, signed)
        _enumeration(el, f)
        return
    el = _described(types, "IntegerArgumentType", name, f.description)
    el.set("signed", "true" if signed else "false")
    _long_description(el, f)
    if f.unit:
        _sub(_sub(el, "UnitSet"), "Unit", text=f.unit)
    _integer_encoding(el, bits, signed)
    _sub(_sub(el, "ValidRangeSet"), "ValidRange", {"minInclusive": f.lo, "maxInclusive": f.hi})


def _tc_base(commands):
    el = _described(commands, "MetaCommand", "PUS_TC", "PUS-C telecommand to the payload controller")
    el.set("abstract", "true")
    _sub(el, "LongDescription", text="Followed on the wire by the packet error control: CRC-16/CCITT-FALSE "
                                     "(poly 0x1021, init 0xFFFF) over every byte before it, appended by the "
                                     "link. The sequence count and packet length are the link's to set too.")
    args = _sub(el, "ArgumentList")
    _sub(args, "Argument", {"name": "ack_flags", "argumentTypeRef": "ack_flags",
                            "initialValue": packet.ACK_ALL})
    _sub(args, "Argument", {"name": "service", "argumentTypeRef": "service"})
    _sub(args, "Argument", {"name": "subtype", "argumentTypeRef": "subtype"})
    entries = _sub(_sub(el, "CommandContainer", {"name": "PUS_TC"}), "EntryList")
    _fixed(entries, "ccsds_version", 3, 0)
    _fixed(entries, "ccsds_type", 1, 1, "telecommand")
    _fixed(entries, "ccsds_sec_hdr", 1, 1)
    _fixed(entries, "ccsds_apid", 11, d.APID)
    _fixed(entries, "ccsds_seq_flags", 2, 3, "unsegmented")
    _fixed(entries, "ccsds_seq_count", 14, 0, "set by the link: the ground's sequence count")
    _fixed(entries, _LENGTH, 16, 0, "set by the link: bytes after the primary header, CRC included, minus 1")
    _fixed(entries, "pus_version", 4, 2, "PUS-C")
    _sub(entries, "ArgumentRefEntry", {"argumentRef": "ack_flags"})
    _sub(entries, "ArgumentRefEntry", {"argumentRef": "service"})
    _sub(entries, "ArgumentRefEntry", {"argumentRef": "subtype"})
    _fixed(entries, "source_id", 16, d.GROUND_ID, "the ground")


def _header_argument_types(types):
    for name, bits, description in (("ack_flags", 4, "acknowledgements asked: acceptance 8, start 4, progress 2, "
                                                      "completion 1"),
                                     ("service", 8, "PUS service type"), ("subtype", 8, "PUS message subtype")):
        el = _described(types, "IntegerArgumentType", name, description)
        el.set("signed", "false")
        _integer_encoding(el, bits)


def _command(types, commands, c):
    el = _described(commands, "MetaCommand", c.name, c.description)
    if c.confirm:
        _sub(el, "LongDescription", text="Hazardous: %s (confirmed by typing %s)." % (c.confirm, c.answer or c.name)
             if c.hazardous else "Hazardous when the nested command is: %s." % c.confirm)
    assign = _sub(_sub(el, "BaseMetaCommand", {"metaCommandRef": "PUS_TC"}), "ArgumentAssignmentList")
    _sub(assign, "ArgumentAssignment", {"argumentName": "service", "argumentValue": c.service})
    _sub(assign, "ArgumentAssignment", {"argumentName": "subtype", "argumentValue": c.subtype})
    if c.args:
        listed = _sub(el, "ArgumentList")
        for f in c.args:
            name = "%s_%s" % (c.name, f.name)
            _argument_type(types, name, f)
            _described(listed, "Argument", f.name, f.description).set("argumentTypeRef", name)
    container = _sub(el, "CommandContainer", {"name": c.name})
    entries = _sub(container, "EntryList")
    if c.function:
        _fixed(entries, "function_id", 16, c.function, "PUS 8 function id")
    for f in c.args:
        _sub(entries, "ArgumentRefEntry", {"argumentRef": f.name})
    # An authentication trailer, once the dictionary defines one (issue 19), is described
    # here: after the arguments, before the CRC that the link appends.
    _sub(container, "BaseContainer", {"containerRef": "PUS_TC"})
    if c.confirm:
        _sub(el, "DefaultSignificance", {"consequenceLevel": "critical", "reasonForWarning": c.confirm})


def _commands(root):
    meta = _sub(root, "CommandMetaData")
    types = _sub(meta, "ArgumentTypeSet")
    commands = _sub(meta, "MetaCommandSet")
    _header_argument_types(types)
    _tc_base(commands)
    for c in d.COMMANDS:
        _command(types, commands, c)


def document():
    """docs/payload.xtce.xml: the whole dictionary as one XTCE 1.2 SpaceSystem."""
    ET.register_namespace("", NAMESPACE)
    ET.register_namespace("xsi", _XSI)
    root = ET.Element("SpaceSystem", {"name": SPACE_SYSTEM, "{%s}schemaLocation" % _XSI: NAMESPACE + " " + SCHEMA})
    header = _sub(root, "Header", {"validationStatus": "Working"})
    _sub(_sub(header, "NoteSet"), "Note", text="Generated by `python -m ground xtce` from firmware/dictionary.py; "
                                               "do not edit (run `make icd`). Loading it: docs/INTEROP.md.")
    _telemetry(root)
    _commands(root)
    _qualify(root)
    ET.indent(root, "  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _qualify(root):
    """Put every element in the XTCE namespace (built without it, for brevity)."""
    for el in root.iter():
        if not el.tag.startswith("{"):
            el.tag = "{%s}%s" % (NAMESPACE, el.tag)
