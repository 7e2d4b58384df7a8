"""Telecommands from names and arguments, telemetry into named fields: all from the dictionary.

Nothing here restates an id or a layout: ``firmware.dictionary`` holds them, this
module only reads it. ``build`` turns ``("FIRE_SEQUENCE", ["1,2", "0"])`` into a
``Telecommand`` (range-checked, a clear ``UsageError`` otherwise); ``decode`` turns
a verified packet into a ``Record`` with named raw values, rendered text (each
value by the names the dictionary gives its field, scaled units) and the fields
outside their dictionary limits. ``decode`` never raises:
a packet it cannot parse comes back as a ``Record`` whose ``error`` says why.

Only the payload's APID is decoded as the payload's: a packet of another APID
(valid CRC or not, it is not ours) is a ``FOREIGN`` record whose data is never
read, so it can neither pass for housekeeping nor answer a command. A time stamp
no clock can give (ms of day past the end of the day) is kept as received and
flagged (``time_error``), never rolled into another day.
"""

import datetime
import struct
from dataclasses import dataclass, field

from firmware import dictionary as d
from firmware import packet
from ground.errors import UsageError

COMMAND_NAMES = tuple(c.name for c in d.COMMANDS)
_TM_BY_TYPE = {(t.service, t.subtype): t for t in d.TELEMETRY}
_EVENT_FIELDS = {e.name: e.fields for e in d.EVENTS}
_CDS_EPOCH = datetime.datetime(1958, 1, 1, tzinfo=datetime.UTC)
_CORRELATED_DAYS = 20000  # on-board days past 2012: time was set from ground, else uptime
_SEQ_MASK = 0x3FFF
MS_PER_DAY = 86400000  # CDS ms of day: 0 .. MS_PER_DAY - 1
FOREIGN = "FOREIGN"


def failure_text(code):
    """The failure in words: ``NO_PERMIT (the lander does not permit deployment)``."""
    if 1 <= code <= len(d.FAILURES):
        f = d.FAILURES[code - 1]
        return "%s (%s)" % (f.name, f.description)
    return "failure code %d (not in this dictionary)" % code


def find_command(name):
    """The Command named ``name`` (any case), or a UsageError naming the problem."""
    entry = d.command(str(name).upper())
    if entry is None:
        raise UsageError("unknown command %r (see: ground dictionary)" % name)
    return entry


def _fixed(entry):
    """A command's arguments before a nested telecommand ("tc"), if it has one."""
    return tuple(f for f in entry.args if f.code != "tc")


def arg_usage(f):
    """``slot(1..4)``, ``id(ARM_WINDOW|BURN_MAX|...)``: an argument as it is typed."""
    if f.code == "tc":
        return "%s=COMMAND [ARGS]" % f.name
    if f.names is not None and f.names.kind == d.BITS:
        return "%s(a list like %s: %s)" % (f.name, ",".join(f.names.names[:2]), "|".join(f.names.names))
    if f.names is not None:
        return "%s(%s)" % (f.name, "|".join(f.names.names))
    return "%s(%s..%s%s)" % (f.name, f.lo, f.hi, " " + f.unit if f.unit else "")


def usage(entry):
    """``FIRE slot(1..4)``: how to type a command."""
    return " ".join((entry.name,) + tuple(arg_usage(f) for f in entry.args))


@dataclass(frozen=True)
class Telecommand:
    """One encoded telecommand; the request id (PUS 1) is its first four bytes.

    ``args`` are the raw values (a nested Telecommand for a "tc" argument); ``str``
    shows them as they are typed (``FIRE_SEQUENCE 1,2 0``).
    """

    name: str
    args: tuple
    packet: bytes
    hazardous: bool

    @property
    def request_id(self):
        return int.from_bytes(self.packet[:4], "big")

    @property
    def seq(self):
        return self.request_id & _SEQ_MASK

    @property
    def entry(self):
        return d.command(self.name)

    def __str__(self):
        return _typed(self.entry, self.args)


def arg_text(f, value):
    """An argument's raw value as it is typed: ``1,2`` for a slot list, a parameter's name."""
    if isinstance(value, Telecommand):
        return "[%s]" % value
    return f.names.text(value) if f.names is not None else str(value)


def _typed(entry, values):
    return " ".join((entry.name,) + tuple(arg_text(f, v) for f, v in zip(entry.args, values, strict=False)))


def _parse_int(entry, f, token):
    try:
        return int(str(token), 0)
    except ValueError:
        raise UsageError("%s: %s must be an integer, got %r (usage: %s)" % (entry.name, f.name, token, usage(entry)))


def _parse_set(entry, f, token):
    """A BITS argument: a list as typed (``1,2``) or given (``[1, 2]``), never one bare number."""
    names = f.names.names
    if isinstance(token, (list, tuple, set, frozenset)):
        items = [str(t).upper() for t in token]
    elif isinstance(token, str) and "," in token:
        items = [t.strip().upper() for t in token.split(",")]
    else:
        number = str(token).strip().isdigit()
        raise UsageError("%s: %s is a list like %s (two or more of %s), got %r%s" % (
            entry.name, f.name, ",".join(names[:2]), "|".join(names), token,
            ": a single number is refused, as it could be read as a bitmask" if number else ""))
    unknown = [t for t in items if t not in names]
    if unknown or not items:
        raise UsageError("%s: %s: %r is not one of %s" % (entry.name, f.name, (unknown or [""])[0], "|".join(names)))
    order = [names.index(t) for t in items]
    if order != sorted(set(order)):
        raise UsageError("%s: %s are taken in ascending order, each once: write %s" % (
            entry.name, f.name, ",".join(names[i] for i in sorted(set(order)))))
    return sum(1 << i for i in order)


def _parse(entry, f, token):
    """One argument's raw value from what was typed (or passed by a script)."""
    names = f.names
    if names is not None and names.kind == d.BITS:
        return _parse_set(entry, f, token)
    if isinstance(token, int):
        return token
    if names is None:
        return _parse_int(entry, f, token)
    if names.value_of(token) is not None:  # a parameter's name, ...
        return names.value_of(token)
    try:
        return int(str(token), 0)
    except ValueError:
        raise UsageError("%s: %s is one of %s (or its number), got %r" % (
            entry.name, f.name, "|".join(names.names), token))


def _check_range(entry, f, value):
    if (f.lo is not None and value < f.lo) or (f.hi is not None and value > f.hi):
        raise UsageError("%s: %s=%s is outside %s..%s" % (entry.name, f.name, value, f.lo, f.hi))


def _check_parameter(entry, values):
    """PARAM_SET: the value must suit the parameter, as the firmware will check."""
    if entry.name == "PARAM_SET":
        p = d.parameter(values[0])
        _check_range(entry, d.Field(p.name, "I", p.unit, p.lo, p.hi), values[1])


def build(name, args, next_seq, ack=packet.ACK_ALL):
    """Encode command ``name`` with ``args`` (as typed, or ints; a list for a slot list).

    ``next_seq()`` gives the 14-bit sequence count of each packet built (a
    ``tc`` argument, as in SCHED_INSERT, is a whole nested command taken from the
    remaining arguments). Raises UsageError on an unknown name, a wrong count or
    an argument out of range.
    """
    entry = find_command(name)
    args = list(args)
    fixed = _fixed(entry)
    nested = len(fixed) < len(entry.args)
    if len(args) != len(fixed) and not (nested and len(args) > len(fixed)):
        raise UsageError("%s takes %d argument%s, got %d (usage: %s)" % (
            entry.name, len(entry.args), "" if len(entry.args) == 1 else "s", len(args), usage(entry)))
    values = [_parse(entry, f, a) for f, a in zip(fixed, args, strict=False)]
    if nested:
        rest = args[len(fixed):]
        values.append(rest[0] if isinstance(rest[0], Telecommand) else build(rest[0], rest[1:], next_seq, ack))
    return _encode(entry, values, next_seq, ack)


def renumber(tc, next_seq, ack=packet.ACK_ALL):
    """``tc`` again under the next sequence count (a nested command stays as it was)."""
    return _encode(tc.entry, list(tc.args), next_seq, ack)


def _encode(entry, values, next_seq, ack):
    fixed = _fixed(entry)
    numbers = values[:len(fixed)]
    for f, v in zip(fixed, numbers, strict=True):
        _check_range(entry, f, v)
    _check_parameter(entry, numbers)
    data = (struct.pack(">H", entry.function) if entry.function else b"") + struct.pack(d.fmt(fixed), *numbers)
    hazardous = entry.hazardous
    if len(values) > len(fixed):
        inner = values[-1]
        data += inner.packet
        hazardous = hazardous or inner.hazardous
    if len(data) > d.MAX_TC_DATA:
        raise UsageError("%s: application data of %d bytes exceeds %d" % (entry.name, len(data), d.MAX_TC_DATA))
    tc = packet.encode_tc(entry.service, entry.subtype, data, seq=next_seq(), ack=ack)
    return Telecommand(entry.name, tuple(values), tc, hazardous)


def describe_tc(raw):
    """``FIRE_SEQUENCE 1,2 0`` for an encoded telecommand (archive replay), or a hex dump if not ours."""
    tc = packet.Tc()
    if not tc.parse(raw, len(raw)):
        return "TC? " + bytes(raw).hex()
    data = bytes(raw[packet.TC_HEADER:packet.TC_HEADER + tc.data_len])
    fid = struct.unpack_from(">H", data)[0] if tc.service == d.SVC_FUNCTION and len(data) >= 2 else 0
    entry = d.command_for(tc.service, tc.subtype, fid)
    if entry is None:
        return "TC[%d,%d] %s" % (tc.service, tc.subtype, data.hex())
    data = data[2:] if fid else data
    fixed = _fixed(entry)
    size = struct.calcsize(d.fmt(fixed))
    try:
        values = struct.unpack_from(d.fmt(fixed), data)
    except struct.error:
        return "%s %s (malformed)" % (entry.name, data.hex())
    text = _typed(entry, values)
    return text + (" [%s]" % describe_tc(data[size:]) if len(fixed) != len(entry.args) else "")


# --- Telemetry -------------------------------------------------------------------


def render(f, value, record=None):
    """One field value as an operator reads it: names (an enum, a set, a count per slot),
    scaled units. ``record``: the other raw values of its record, by field name."""
    if f.name == "request_id":
        return "0x%08X" % value
    if value == f.invalid:
        return "INVALID"
    if f.names is not None:
        return f.names.text(value, record)
    factor, unit, decimals = scaling(f)
    return ("%.*f %s" % (decimals, value * factor, unit)).rstrip()


def scaling(f):
    """(factor, unit, decimals) of a field: a unit "0.1 C" means raw * 0.1 in C."""
    scale, _, unit = f.unit.partition(" ")
    if unit and scale.replace(".", "", 1).isdigit():
        return float(scale), unit, len(scale.partition(".")[2])
    return 1, f.unit, 0


def out_of_limits(f, value):
    return (f.lo is not None and value < f.lo) or (f.hi is not None and value > f.hi)


def _unpack(layout, data):
    """(values by name, error or None); a "*" field repeats the fields after it."""
    star = next((i for i, f in enumerate(layout) if f.code == "*"), len(layout))
    head, rec = layout[:star], layout[star + 1:]
    hfmt, rfmt = d.fmt(head), d.fmt(rec)
    hsize, rsize = struct.calcsize(hfmt), struct.calcsize(rfmt)
    body = len(data) - hsize
    if body < 0 or (not rec and body) or (rec and body % rsize):
        return {}, "data of %d bytes does not fit the layout (%d%s)" % (
            len(data), hsize, " + n*%d" % rsize if rec else "")
    values = dict(zip((f.name for f in head), struct.unpack_from(hfmt, data), strict=True))
    if star < len(layout):
        values[layout[star].name] = [
            dict(zip((f.name for f in rec), struct.unpack_from(rfmt, data, hsize + i * rsize), strict=True))
            for i in range(body // rsize)]
    return values, None


def time_error(ms):
    """Why a CDS time with ``ms`` ms of day cannot be true, or None."""
    if ms >= MS_PER_DAY:
        return "impossible time: %d ms of day (a day has %d)" % (ms, MS_PER_DAY)
    return None


def format_obt(days, ms):
    """On-board time: UTC once correlated, else uptime since boot; an impossible time as received."""
    if time_error(ms):
        return "BADTIME(days=%d,ms=%d)" % (days, ms)
    if days >= _CORRELATED_DAYS:
        t = _CDS_EPOCH + datetime.timedelta(days=days, milliseconds=ms)
        return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (ms % 1000)
    return "T+%.3fs" % (days * 86400 + ms / 1000)


@dataclass
class Record:
    """One decoded telemetry packet.

    ``values`` holds raw integers by field name (``entry`` lists for SCHEDULE);
    ``event`` and ``severity`` are set for PUS 5 reports; ``error`` says why the
    data did not fit its layout (the header fields are still valid then), or, for
    a FOREIGN record, that its APID is not the payload's.
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
    raw: bytes = b""  # the packet it was decoded from
    apid: int = d.APID

    @property
    def obt(self):
        return format_obt(self.days, self.ms)

    @property
    def foreign(self):
        return self.apid != d.APID

    @property
    def time_error(self):
        return time_error(self.ms)

    @property
    def request_id(self):
        return self.values.get("request_id")

    def rendered(self):
        """(name, text, out_of_limits) for each fixed field, in layout order."""
        return [(f.name, render(f, self.values[f.name], self.values), out_of_limits(f, self.values[f.name]))
                for f in self.layout if f.name in self.values and f.code != "*"]

    def rendered_entries(self):
        """The repeated records (SCHEDULE's entries) as [(name, text)] each."""
        star = next((i for i, f in enumerate(self.layout) if f.code == "*"), None)
        if star is None:
            return []
        fields, entries = self.layout[star + 1:], self.values.get(self.layout[star].name, ())
        return [[(f.name, render(f, e[f.name], e)) for f in fields] for e in entries]

    def violations(self):
        return [name for name, _text, bad in self.rendered() if bad]

    def title(self):
        return "%s %s" % (self.name, self.event) if self.event else self.name

    def __str__(self):
        if self.foreign:
            return "%s %s apid=0x%03X [%d,%d] seq=%d: %s" % (
                self.obt, FOREIGN, self.apid, self.service, self.subtype, self.seq, self.error)
        parts = [self.obt + (" !TIME" if self.time_error else ""), self.title()]
        parts += ["%s=%s%s" % (n, t, " !LIMIT" if bad else "") for n, t, bad in self.rendered()]
        if "code" in self.values:
            parts.append("(%s)" % failure_text(self.values["code"]).partition(" (")[2][:-1])
        parts += _when(self.values)
        for e, raw in zip(self.rendered_entries(), self.values.get("entry", ()), strict=False):
            parts.append("{%s}" % " ".join(["%s=%s" % kv for kv in e] + _when(raw)))
        if self.error:
            parts.append("MALFORMED: " + self.error)
        return " ".join(parts)

    def to_json(self):
        doc = {"name": self.name, "apid": self.apid, "service": self.service, "subtype": self.subtype,
               "seq": self.seq, "counter": self.counter, "obt": self.obt, "ground_time": self.ground_time,
               "values": self.values}
        rendered = self.rendered()  # once: it is most of the cost (the ground server does it for every packet)
        doc["text"] = {n: t for n, t, _bad in rendered}
        doc["violations"] = [n for n, _t, bad in rendered if bad]
        doc.update({k: v for k, v in (("event", self.event), ("severity", self.severity),
                                      ("error", self.error), ("time_error", self.time_error)) if v})
        return doc


def _when(values):
    """A CDS time given as fields "days" and "ms", as a time: ``["= 2026-06-13T01:00:00.000Z"]``."""
    if "days" in values and "ms" in values:
        return ["= " + format_obt(values["days"], values["ms"])]
    return []


def layout(service, subtype, event=None):
    """The fields of a telemetry packet's data (an event's after its id), () if not in the dictionary."""
    if event is not None:
        return _EVENT_FIELDS.get(event, ())
    entry = _TM_BY_TYPE.get((service, subtype))
    return entry.fields if entry else ()


def decode(raw, ground_time=0.0):
    """The Record of a CRC-verified packet, or None if it is not PUS-C telemetry."""
    tm = packet.decode_tm(raw, len(raw))
    if tm is None:
        return None
    if tm.apid != d.APID:
        why = "APID 0x%03X is not the payload's (0x%03X): not decoded" % (tm.apid, d.APID)
        return Record(FOREIGN, tm.service, tm.subtype, tm.seq, tm.counter, tm.days, tm.ms, ground_time=ground_time,
                      raw=bytes(raw), apid=tm.apid, error=why)
    entry = _TM_BY_TYPE.get((tm.service, tm.subtype))
    rec = Record(entry.name if entry else "TM[%d,%d]" % (tm.service, tm.subtype),
                 tm.service, tm.subtype, tm.seq, tm.counter, tm.days, tm.ms, ground_time=ground_time, raw=bytes(raw))
    if entry is None:
        rec.error = "service/subtype not in this dictionary"
        return rec
    data = tm.data
    rec.layout = entry.fields
    if tm.service == d.SVC_EVENT:
        rec.severity = d.SEVERITIES[tm.subtype - 1]
        if len(data) < 2:
            rec.error = "event id cut short: %d byte%s of 2" % (len(data), "" if len(data) == 1 else "s")
            return rec
        eid = struct.unpack_from(">H", data)[0]
        ev = d.event(eid)
        if ev is None:
            rec.error = "event id %d not in this dictionary" % eid
            return rec
        rec.event, rec.layout, data = ev.name, ev.fields, data[2:]
    rec.values, rec.error = _unpack(rec.layout, data)
    return rec
