"""Generate firmware/tables.py, the firmware's compact view of the dictionary.

    python -m ground.tablegen > firmware/tables.py      (make icd)

firmware/dictionary.py holds names, units and descriptions that the ground and
docs/ICD.md need; loaded on the board it would take most of the 64 KiB heap. The
firmware imports only the numbers and struct formats, generated here so that
nothing is restated by hand; CI fails if the generated file is stale.
"""

from firmware import dictionary as d

_HEADER = '''"""Compact command and telemetry tables for the firmware.

GENERATED from firmware/dictionary.py by `make icd` (python -m ground.tablegen):
do not edit; CI fails if this file is stale. Read dictionary.py for meanings.
"""

from micropython import const

'''


def _scalars():
    for name in sorted(vars(d)):
        value = getattr(d, name)
        if name.isupper() and not name.startswith("_") and type(value) is int:
            yield "%s = const(%d)" % (name, value)


def _commands():
    yield "# Commands: (service, subtype, function_id, hazardous, argument format after the"
    yield "# function id, lows, highs, tail); tail = 1 when a whole TC follows the arguments."
    yield "COMMANDS = ("
    for i, (name, service, subtype, fid, hazardous, args, _doc) in enumerate(d.COMMANDS):
        fixed = [a for a in args if a[1] != "tc"]
        yield "    (%d, %d, %d, %d, %r, %r, %r, %d),  # %d %s" % (
            service, subtype, fid, hazardous, d.fmt(fixed), tuple(a[3] for a in fixed),
            tuple(a[4] for a in fixed), len(fixed) != len(args), i, name)
    yield ")"
    for i, c in enumerate(d.COMMANDS):
        yield "CMD_%s = const(%d)" % (c[0], i)
    yield "# Bit i set: command i is persisted (dictionary.persisted)"
    yield "PERSISTED = const(0x%X)" % sum(1 << i for i, c in enumerate(d.COMMANDS) if d.persisted(c))


def _parameters():
    yield "# Parameters: (id, lo, hi, default)"
    yield "PARAMETERS = ("
    for pid, name, _unit, lo, hi, default, _doc in d.PARAMETERS:
        yield "    (%d, %d, %d, %d),  # %s" % (pid, lo, hi, default, name)
    yield ")"


def _telemetry():
    yield "# Events by id - 1: severity (PUS 5 subtype) and the format of the fields after the id"
    yield "EVENT_SEVERITY = %r" % bytes(e[2] for e in d.EVENTS)
    yield "EVENT_FORMATS = %r" % (tuple(d.fmt(e[3]) for e in d.EVENTS),)
    yield "HK_FORMAT = %r" % d.fmt(d.HK_FIELDS)
    yield "# Telemetry packets: service << 8 | subtype"
    for name, service, subtype, _fields, _doc in d.TELEMETRY:
        yield "TM_%s = const(0x%04X)" % (name, service << 8 | subtype)


def generate():
    parts = [_scalars(), _commands(), _parameters(), _telemetry()]
    return _HEADER + "\n\n".join("\n".join(p) for p in parts) + "\n"


if __name__ == "__main__":
    print(generate(), end="")
