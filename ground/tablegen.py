"""Generate firmware/tables.py, the firmware's compact view of the dictionary.

    python -m ground.tablegen > firmware/tables.py      (make icd)

firmware/dictionary.py holds names, units and descriptions that the ground and
docs/ICD.md need; loaded on the board it would take most of the 64 KiB heap. The
firmware imports only the numbers and struct formats, generated here so that
nothing is restated by hand; CI fails if the generated file is stale.

Every name in tables.py is a key in the module's globals on the board, so it
holds what the firmware reads, by name, and little else: rows become columns
(``CMD_SERVICE[i]``, ``PARAM_HI[pid - 1]``), byte strings where the values fit
a byte, and the ints the firmware finds elsewhere are left out (import the
generated module under `micropython -X heapsize=96k` to see what it costs).
"""

import struct

from firmware import dictionary as d

_HEADER = '''"""Compact command and telemetry tables for the firmware.

GENERATED from firmware/dictionary.py by `make icd` (python -m ground.tablegen):
do not edit; CI fails if this file is stale. Read dictionary.py for meanings.
"""

from micropython import const

'''


_TYPE_MAX = {"B": 0xFF, "H": 0xFFFF, "I": 0xFFFFFFFF}


def _scalars():
    for name in sorted(vars(d)):
        value = getattr(d, name)
        # left out: ints the firmware reads elsewhere, a command's PUS service (SVC_*) from
        # CMD_SERVICE and an event's severity from EVENT_SEVERITY
        skip = name.startswith(("_", "SVC_")) or name in d.SEVERITIES
        if name.isupper() and not skip and type(value) is int:
            yield "%s = const(%d)" % (name, value)


def _limit(f, limit):
    """An upper limit that its wire type already enforces is None: a u32 bound would not be a small int."""
    return None if limit == _TYPE_MAX.get(f.code) else limit


def _commands():
    fixed = [tuple(a for a in c.args if a.code != "tc") for c in d.COMMANDS]
    yield "# Commands by index (CMD_*), one column each: PUS service, subtype, function id (PUS 8,"
    yield "# else 0), data length (function id and arguments), 1 when a whole TC follows the"
    yield "# arguments, the arguments' struct format, their lower and upper limits (None: the wire type's),"
    yield "# 1 when the command is persisted (dictionary.persisted: on flash before it acts)."
    for i, (c, f) in enumerate(zip(d.COMMANDS, fixed, strict=True)):
        yield "#   %2d %-14s %2d %3d %d %r" % (i, c.name, c.service, c.subtype, c.function, d.fmt(f))
    yield "CMD_SERVICE = %r" % bytes(c.service for c in d.COMMANDS)
    yield "CMD_SUBTYPE = %r" % bytes(c.subtype for c in d.COMMANDS)
    yield "CMD_FUNCTION = %r" % bytes(c.function for c in d.COMMANDS)
    yield "CMD_LEN = %r" % bytes((2 if c.function else 0) + struct.calcsize(d.fmt(f))
                                 for c, f in zip(d.COMMANDS, fixed, strict=True))
    yield "CMD_TAIL = %r" % bytes(len(f) != len(c.args) for c, f in zip(d.COMMANDS, fixed, strict=True))
    yield "CMD_FORMAT = %r" % (tuple(d.fmt(f) for f in fixed),)
    yield "CMD_LO = %r" % (tuple(tuple(a.lo for a in f) for f in fixed),)
    yield "CMD_HI = %r" % (tuple(tuple(_limit(a, a.hi) for a in f) for f in fixed),)
    yield "CMD_PERSISTED = %r" % bytes(d.persisted(c) for c in d.COMMANDS)
    for i, c in enumerate(d.COMMANDS):
        yield "CMD_%s = const(%d)" % (c.name, i)


def _parameters():
    yield "# Parameters by id - 1: lower and upper limits, default"
    yield "PARAM_LO = %r" % (tuple(p.lo for p in d.PARAMETERS),)
    yield "PARAM_HI = %r" % (tuple(p.hi for p in d.PARAMETERS),)
    yield "PARAM_DEFAULT = %r" % (tuple(p.default for p in d.PARAMETERS),)


def _telemetry():
    yield "# Events by id - 1: severity (PUS 5 subtype) and the format of the fields after the id"
    yield "EVENT_SEVERITY = %r" % bytes(e.severity for e in d.EVENTS)
    yield "EVENT_FORMATS = %r" % (tuple(d.fmt(e.fields) for e in d.EVENTS),)
    yield "HK_FORMAT = %r" % d.fmt(d.HK_FIELDS)
    yield "# Telemetry packets: service << 8 | subtype; a PUS 1 or PUS 5 report by its family's first,"
    yield "# to which the firmware adds the verification stage or the severity"
    for t in d.TELEMETRY:
        if t.subtype == 1 or t.service not in (d.SVC_VERIFICATION, d.SVC_EVENT):
            yield "TM_%s = const(0x%04X)" % (t.name, t.service << 8 | t.subtype)


def generate():
    parts = [_scalars(), _commands(), _parameters(), _telemetry()]
    return _HEADER + "\n\n".join("\n".join(p) for p in parts) + "\n"


if __name__ == "__main__":
    print(generate(), end="")
