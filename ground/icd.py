"""The interface control document, generated from the dictionary.

``python -m ground.icd`` prints docs/ICD.md (``make icd`` writes it; ``make
icd-check`` fails when it is stale). ``ground dictionary`` prints the same
command and telemetry tables as aligned text.
"""

from firmware import dictionary as d
from firmware import framing, packet
from ground import codec


def _range(f):
    if f[3] is None and f[4] is None:
        return ""
    return "%s..%s" % ("" if f[3] is None else f[3], "" if f[4] is None else f[4])


def _type(f):
    return {"tc": "telecommand", "*": "repeated"}.get(f[1], f[1])


def command_rows():
    """(name, service, subtype, function id, hazardous, usage, description) per command."""
    return [(c[0], c[1], c[2], c[3] or "", "yes" if c[4] else "", codec.usage(c), c[6]) for c in d.COMMANDS]


def telemetry_rows():
    """(name, service, subtype, description, fields) per TM packet."""
    return [(t[0], t[1], t[2], t[4], " ".join(f[0] for f in t[3])) for t in d.TELEMETRY]


def field_rows(fields):
    """(name, type, unit, range, description) per field: the struct code is the wire type."""
    return [(f[0], _type(f), f[2], _range(f), f[5]) for f in fields]


def markdown_table(headers, rows):
    lines = ["| " + " | ".join(headers) + " |", "|" + " --- |" * len(headers)]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def text_table(headers, rows):
    rows = [tuple(str(c) for c in r) for r in [headers, *rows]]
    widths = [max(len(r[i]) for r in rows) for i in range(len(headers))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows)


COMMAND_HEADERS = ("command", "svc", "sub", "fid", "hazardous", "usage", "description")
TELEMETRY_HEADERS = ("telemetry", "svc", "sub", "description", "fields")
EVENT_HEADERS = ("id", "event", "severity", "description", "fields")


def event_rows():
    return [(e[0], e[1], d.SEVERITIES[e[2] - 1], e[4], " ".join(f[0] for f in e[3])) for e in d.EVENTS]
FIELD_HEADERS = ("field", "type", "unit", "range", "description")


def dictionary_text():
    """What ``ground dictionary`` prints."""
    return "\n\n".join((text_table(COMMAND_HEADERS, command_rows()),
                        text_table(TELEMETRY_HEADERS, telemetry_rows()),
                        text_table(EVENT_HEADERS, event_rows())))


def _section(title, body):
    return "## %s\n\n%s\n" % (title, body)


def _wire_format():
    return "\n".join(("Struct codes are Python `struct` codes, big-endian: B u8, H u16, h i16, I u32.",
                      "APID 0x%03X, ground id %d. Packets (firmware/packet.py):" % (d.APID, d.GROUND_ID),
                      "", "```", packet.__doc__.strip(), "```", "", "Framing (firmware/framing.py):",
                      "", "```", framing.__doc__.strip(), "```"))


def _with_layouts(intro, headers, rows, layouts, note=""):
    """A summary table, then one field table per ``(title, fields)`` that has fields."""
    parts = [intro] if intro else []
    parts.append(markdown_table(headers, rows))
    parts += ["### %s\n\n%s" % (title, markdown_table(FIELD_HEADERS, field_rows(fields)))
              for title, fields in layouts if fields]
    return "\n\n".join(parts + ([note] if note else []))


def _commands():
    return _with_layouts("", COMMAND_HEADERS, command_rows(), [(c[0] + " arguments", c[5]) for c in d.COMMANDS],
                         "A PUS 8 command's application data starts with its function id (u16).")


def _telemetry():
    return _with_layouts("", TELEMETRY_HEADERS, telemetry_rows(), [(t[0], t[3]) for t in d.TELEMETRY],
                         "A `repeated` field: the fields after it repeat, one record each, to the end of the data.")


def _events():
    return _with_layouts("Event reports (PUS 5, subtype = severity) carry the event id (u16), then its fields.",
                         EVENT_HEADERS, event_rows(), [(e[1], e[3]) for e in d.EVENTS])


def _enumerations():
    tables = (("CONTROLLER_STATES", d.CONTROLLER_STATES), ("SLOT_STATES", d.SLOT_STATES),
              ("RESET_CAUSES", d.RESET_CAUSES), ("INPUT_BITS (bit number)", d.INPUT_BITS),
              ("OUTPUT_BITS (bit number)", d.OUTPUT_BITS))
    return "\n\n".join("%s: %s" % (name, ", ".join("%d %s" % iv for iv in enumerate(values)))
                       for name, values in tables)


_BURN_RULE = """A burn (the first or a retry) starts only on a settled switch: the slot's separation switch
reads stowed, debounced and raw alike, and its last burn (or the boot) was at least
SWITCH_SETTLE_MS = %d ms ago, the longest the deployer's switch chatters after a release. So for
every combination of parameter values, no current flows in a slot whose satellite has left while
its switch works: a retry waits COOLDOWN, then until the switch settles (a satellite that left
during the burn is confirmed RELEASED by DEBOUNCE instead); FIRE or FIRE_SEQUENCE naming a slot
whose switch has not settled is refused SWITCH_SETTLING, and a sequence reaching such a slot
waits for it. The rule is drawn in the sequencer's state table (firmware/sequencer.py)."""


def document():
    return "\n".join((
        "# Interface control document\n",
        "Generated by `python -m ground.icd` from firmware/dictionary.py; do not edit (run `make icd`).\n",
        _section("Wire format", _wire_format()),
        _section("Telecommands", _commands()),
        _section("Telemetry", _telemetry()),
        _section("Events", _events()),
        _section("Failure codes", markdown_table(("code", "name", "meaning"),
                                                 [(i + 1, n, t) for i, (n, t) in enumerate(d.FAILURES)])),
        _section("Parameters", markdown_table(("id", "name", "unit", "range", "default", "description"),
                                              [(p[0], p[1], p[2], "%d..%d" % (p[3], p[4]), p[5], p[6])
                                               for p in d.PARAMETERS]) + "\n\n" + _BURN_RULE % d.SWITCH_SETTLE_MS),
        _section("Enumerations", _enumerations()),
    ))


if __name__ == "__main__":
    print(document(), end="")
