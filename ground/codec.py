"""Telecommands from names and arguments, telemetry into named fields: all from the dictionary.

Nothing here restates an id or a layout: ``firmware.dictionary`` holds them, this
module only reads it. ``build`` turns ``("FIRE", ["2"])`` into a ``Telecommand``
(range-checked, a clear ``UsageError`` otherwise); ``decode`` turns a verified
packet into a ``Record`` with named raw values, rendered text (enum names, scaled
units) and the fields outside their dictionary limits. ``decode`` never raises:
a packet it cannot parse comes back as a ``Record`` whose ``error`` says why.
"""

import datetime
import struct
from dataclasses import dataclass, field

from firmware import dictionary as d
from firmware import packet
from ground.errors import UsageError

COMMAND_NAMES = tuple(c[0] for c in d.COMMANDS)
PARAMETER_NAMES = tuple(p[1] for p in d.PARAMETERS)
_TM_BY_TYPE = {(t[1], t[2]): t for t in d.TELEMETRY}
_EVENT_SERVICE = 5
_CDS_EPOCH = datetime.datetime(1958, 1, 1, tzinfo=datetime.UTC)
_CORRELATED_DAYS = 20000  # on-board days past 2012: time was set from ground, else uptime
_SEQ_MASK = 0x3FFF

# Which name table renders an "enum" or "bitmask" field when its description
# does not name one (the dictionary describes these fields in words).
_TABLE_BY_FIELD = {
    "state": "CONTROLLER_STATES",
    "slot1": "SLOT_STATES", "slot2": "SLOT_STATES", "slot3": "SLOT_STATES", "slot4": "SLOT_STATES",
    "reset_cause": "RESET_CAUSES",
    "code": "FAILURES", "reason": "FAILURES",
    "inputs": "INPUT_BITS", "outputs": "OUTPUT_BITS",
}
_TABLES = ("CONTROLLER_STATES", "SLOT_STATES", "RESET_CAUSES", "INPUT_BITS", "OUTPUT_BITS", "FAILURES")


def failure_name(code):
    """``NO_PERMIT`` for code 6; the number itself for a code not in the dictionary."""
    return d.FAILURES[code - 1][0] if 1 <= code <= len(d.FAILURES) else str(code)


def failure_text(code):
    """The failure in words: ``NO_PERMIT (the lander does not permit deployment)``."""
    if 1 <= code <= len(d.FAILURES):
        return "%s (%s)" % d.FAILURES[code - 1]
    return "failure code %d (not in this dictionary)" % code


def find_command(name):
    """The COMMANDS entry for ``name`` (any case), or a UsageError naming the problem."""
    entry = d.command(str(name).upper())
    if entry is None:
        raise UsageError("unknown command %r (see: ground dictionary)" % name)
    return entry


def arg_usage(f):
    """``slot(1..4)``: an argument with its range and unit."""
    if f[1] == "tc":
        return "%s=COMMAND [ARGS]" % f[0]
    unit = " " + f[2] if f[2] and f[2] not in ("enum", "bitmask") else ""
    return "%s(%s..%s%s)" % (f[0], f[3], f[4], unit)


def usage(entry):
    """``FIRE slot(1..4)``: how to type a command."""
    return " ".join((entry[0],) + tuple(arg_usage(f) for f in entry[5]))


@dataclass(frozen=True)
class Telecommand:
    """One encoded telecommand; the request id (PUS 1) is its first four bytes."""

    name: str
    args: tuple  # ints; a nested Telecommand for a "tc" argument
    packet: bytes
    hazardous: bool

    @property
    def request_id(self):
        return int.from_bytes(self.packet[:4], "big")

    @property
    def seq(self):
        return self.request_id & _SEQ_MASK

    def __str__(self):
        return " ".join([self.name] + ["[%s]" % a if isinstance(a, Telecommand) else str(a) for a in self.args])


def _parse_int(entry, f, token):
    if isinstance(token, int):
        return token
    if f[0] == "id" and str(token).upper() in PARAMETER_NAMES:  # PARAM_GET/SET take a name too
        return PARAMETER_NAMES.index(str(token).upper()) + 1
    try:
        return int(str(token), 0)
    except ValueError:
        raise UsageError("%s: %s must be an integer, got %r (usage: %s)" % (entry[0], f[0], token, usage(entry)))


def _check_range(entry, f, value):
    lo, hi = f[3], f[4]
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise UsageError("%s: %s=%d is outside %s..%s" % (entry[0], f[0], value, lo, hi))


def _check_parameter(entry, values):
    """PARAM_SET: the value must suit the parameter, as the firmware will check."""
    if entry[0] == "PARAM_SET":
        _pid, name, unit, lo, hi = d.parameter(values[0])[:5]
        _check_range(entry, (name, "I", unit, lo, hi), values[1])


def build(name, args, next_seq, ack=packet.ACK_ALL):
    """Encode command ``name`` with ``args`` (ints or strings as typed).

    ``next_seq()`` gives the 14-bit sequence count of each packet built (a
    ``tc`` argument, as in SCHED_INSERT, is a whole nested command taken from the
    remaining arguments). Raises UsageError on an unknown name, a wrong count or
    an argument out of range.
    """
    entry = find_command(name)
    layout = entry[5]
    args = list(args)
    nested = layout and layout[-1][1] == "tc"
    fixed = layout[:-1] if nested else layout
    if len(args) != len(fixed) and not (nested and len(args) > len(fixed)):
        raise UsageError("%s takes %d argument%s, got %d (usage: %s)" % (
            entry[0], len(layout), "" if len(layout) == 1 else "s", len(args), usage(entry)))
    values = [_parse_int(entry, f, a) for f, a in zip(fixed, args, strict=False)]
    for f, v in zip(fixed, values, strict=True):
        _check_range(entry, f, v)
    _check_parameter(entry, values)
    data = (struct.pack(">H", entry[3]) if entry[3] else b"") + struct.pack(d.fmt(fixed), *values)
    hazardous = entry[4]
    if nested:
        rest = args[len(fixed):]
        inner = rest[0] if isinstance(rest[0], Telecommand) else build(rest[0], rest[1:], next_seq, ack)
        values.append(inner)
        data += inner.packet
        hazardous = hazardous or inner.hazardous
    if len(data) > d.MAX_TC_DATA:
        raise UsageError("%s: application data of %d bytes exceeds %d" % (entry[0], len(data), d.MAX_TC_DATA))
    tc = packet.encode_tc(entry[1], entry[2], data, seq=next_seq(), ack=ack)
    return Telecommand(entry[0], tuple(values), tc, hazardous)


def describe_tc(raw):
    """``FIRE 2`` for an encoded telecommand (archive replay), or a hex dump if not ours."""
    tc = packet.Tc()
    if not tc.parse(raw, len(raw)):
        return "TC? " + bytes(raw).hex()
    data = bytes(raw[packet.TC_HEADER:packet.TC_HEADER + tc.data_len])
    fid = struct.unpack_from(">H", data)[0] if tc.service == 8 and len(data) >= 2 else 0
    entry = d.command_for(tc.service, tc.subtype, fid)
    if entry is None:
        return "TC[%d,%d] %s" % (tc.service, tc.subtype, data.hex())
    data = data[2:] if fid else data
    fixed = tuple(f for f in entry[5] if f[1] != "tc")
    size = struct.calcsize(d.fmt(fixed))
    try:
        values = struct.unpack_from(d.fmt(fixed), data)
    except struct.error:
        return "%s %s (malformed)" % (entry[0], data.hex())
    text = " ".join((entry[0],) + tuple(str(v) for v in values))
    return text + (" [%s]" % describe_tc(data[size:]) if len(fixed) != len(entry[5]) else "")


# --- Telemetry -------------------------------------------------------------------


def _table(f):
    for name in _TABLES:
        if name in f[5]:
            return getattr(d, name)
    name = _TABLE_BY_FIELD.get(f[0])
    return getattr(d, name) if name else None


def render(f, value):
    """One field value as an operator reads it: enum names, set bits, scaled units."""
    if f[0] == "request_id":
        return "0x%08X" % value
    if f[0] == "temperature" and value == d.TEMP_INVALID:
        return "INVALID"
    table = _table(f)
    if table is d.FAILURES:
        return failure_name(value) if value else "NONE"
    if table is not None and f[2] == "bitmask":
        return "|".join(n for i, n in enumerate(table) if value >> i & 1) or "-"
    if table is not None:
        return table[value] if 0 <= value < len(table) else "?%d" % value
    if f[2] == "bitmask":
        return "0b" + format(value, "b")
    factor, unit, decimals = scaling(f)
    return ("%.*f %s" % (decimals, value * factor, unit)).rstrip()


def scaling(f):
    """(factor, unit, decimals) of a field: a unit "0.1 C" means raw * 0.1 in C."""
    scale, _, unit = f[2].partition(" ")
    if unit and scale.replace(".", "", 1).isdigit():
        return float(scale), unit, len(scale.partition(".")[2])
    return 1, f[2], 0


def out_of_limits(f, value):
    return (f[3] is not None and value < f[3]) or (f[4] is not None and value > f[4])


def _unpack(layout, data):
    """(values by name, error or None); a "*" field repeats the fields after it."""
    star = next((i for i, f in enumerate(layout) if f[1] == "*"), len(layout))
    head, rec = layout[:star], layout[star + 1:]
    hfmt, rfmt = d.fmt(head), d.fmt(rec)
    hsize, rsize = struct.calcsize(hfmt), struct.calcsize(rfmt)
    body = len(data) - hsize
    if body < 0 or (not rec and body) or (rec and body % rsize):
        return {}, "data of %d bytes does not fit the layout (%d%s)" % (
            len(data), hsize, " + n*%d" % rsize if rec else "")
    values = dict(zip((f[0] for f in head), struct.unpack_from(hfmt, data), strict=True))
    if star < len(layout):
        values[layout[star][0]] = [
            dict(zip((f[0] for f in rec), struct.unpack_from(rfmt, data, hsize + i * rsize), strict=True))
            for i in range(body // rsize)]
    return values, None


def format_obt(days, ms):
    """On-board time: UTC once correlated, else uptime since boot."""
    if days >= _CORRELATED_DAYS:
        t = _CDS_EPOCH + datetime.timedelta(days=days, milliseconds=ms)
        return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (ms % 1000)
    return "T+%.3fs" % (days * 86400 + ms / 1000)


@dataclass
class Record:
    """One decoded telemetry packet.

    ``values`` holds raw integers by field name (``entry`` lists for SCHEDULE);
    ``event`` and ``severity`` are set for PUS 5 reports; ``error`` says why the
    data did not fit its layout (the header fields are still valid then).
    """

    name: str
    service: int
    subtype: int
    seq: int
    counter: int
    days: int
    ms: int
    values: dict = field(default_factory=dict)
    layout: tuple = ()
    event: str | None = None
    severity: str | None = None
    error: str | None = None
    ground_time: float = 0.0  # s since the Unix epoch, when the ground received it
    position: int = -1  # index among the records a Client received

    @property
    def obt(self):
        return format_obt(self.days, self.ms)

    @property
    def request_id(self):
        return self.values.get("request_id")

    def rendered(self):
        """(name, text, out_of_limits) for each fixed field, in layout order."""
        return [(f[0], render(f, self.values[f[0]]), out_of_limits(f, self.values[f[0]]))
                for f in self.layout if f[0] in self.values and f[1] != "*"]

    def violations(self):
        return [name for name, _text, bad in self.rendered() if bad]

    def title(self):
        return "%s %s" % (self.name, self.event) if self.event else self.name

    def __str__(self):
        parts = [self.obt, self.title()]
        parts += ["%s=%s%s" % (n, t, " !LIMIT" if bad else "") for n, t, bad in self.rendered()]
        if "code" in self.values:
            parts.append("(%s)" % failure_text(self.values["code"]).partition(" (")[2][:-1])
        for e in self.values.get("entry", ()):
            parts.append("{%s}" % " ".join("%s=%s" % kv for kv in e.items()))
        if self.error:
            parts.append("MALFORMED: " + self.error)
        return " ".join(parts)

    def to_json(self):
        doc = {"name": self.name, "service": self.service, "subtype": self.subtype, "seq": self.seq,
               "counter": self.counter, "obt": self.obt, "values": self.values}
        doc["text"] = {n: t for n, t, _bad in self.rendered()}
        doc["violations"] = self.violations()
        doc.update({k: v for k, v in (("event", self.event), ("severity", self.severity),
                                      ("error", self.error)) if v})
        return doc


def decode(raw):
    """The Record of a CRC-verified packet, or None if it is not PUS-C telemetry."""
    tm = packet.decode_tm(raw, len(raw))
    if tm is None:
        return None
    entry = _TM_BY_TYPE.get((tm.service, tm.subtype))
    rec = Record(entry[0] if entry else "TM[%d,%d]" % (tm.service, tm.subtype),
                 tm.service, tm.subtype, tm.seq, tm.counter, tm.days, tm.ms)
    if entry is None:
        rec.error = "service/subtype not in this dictionary"
        return rec
    data = tm.data
    rec.layout = entry[3]
    if tm.service == _EVENT_SERVICE:
        rec.severity = d.SEVERITIES[tm.subtype - 1]
        eid = struct.unpack_from(">H", data)[0] if len(data) >= 2 else 0
        ev = d.event(eid)
        if ev is None:
            rec.error = "event id %d not in this dictionary" % eid
            return rec
        rec.event, rec.layout, data = ev[1], ev[3], data[2:]
    rec.values, rec.error = _unpack(rec.layout, data)
    return rec
